// Local notifications the core asks for (a payment confirmed only after it had to be re-sent,
// when the resident may have put the phone away). The core words title and body; the channel's
// name is the app's own chrome (res/values/strings.xml).
package jp.chiiki.app

import android.Manifest
import android.app.NotificationChannel
import android.app.NotificationManager
import android.app.PendingIntent
import android.content.Context
import android.content.Intent
import android.content.pm.PackageManager
import androidx.core.app.NotificationCompat
import androidx.core.app.NotificationManagerCompat
import androidx.core.content.ContextCompat
import java.util.concurrent.atomic.AtomicInteger

class Notifier(private val context: Context) {
    private val ids = AtomicInteger(1)

    /** Once at start: Android 8+ shows nothing without a channel. */
    fun createChannel() {
        val channel = NotificationChannel(
            CHANNEL_PAYMENTS,
            context.getString(R.string.notification_channel_payments),
            NotificationManager.IMPORTANCE_HIGH,
        ).apply { description = context.getString(R.string.notification_channel_payments_description) }
        context.getSystemService(NotificationManager::class.java).createNotificationChannel(channel)
    }

    fun show(title: String, body: String) {
        // Android 13+: without the resident's permission the notification is left out; the
        // result is on screen the next time the app is opened.
        val allowed = ContextCompat.checkSelfPermission(context, Manifest.permission.POST_NOTIFICATIONS) ==
            PackageManager.PERMISSION_GRANTED
        if (!allowed) return
        val open = PendingIntent.getActivity(
            context,
            0,
            Intent(context, MainActivity::class.java).addFlags(Intent.FLAG_ACTIVITY_SINGLE_TOP),
            PendingIntent.FLAG_IMMUTABLE or PendingIntent.FLAG_UPDATE_CURRENT,
        )
        val notification = NotificationCompat.Builder(context, CHANNEL_PAYMENTS)
            .setSmallIcon(R.drawable.ic_notification)
            .setContentTitle(title)
            .setContentText(body)
            .setStyle(NotificationCompat.BigTextStyle().bigText(body))
            .setCategory(NotificationCompat.CATEGORY_STATUS)
            .setContentIntent(open)
            .setAutoCancel(true)
            .build()
        NotificationManagerCompat.from(context).notify(ids.getAndIncrement(), notification)
    }

    companion object {
        const val CHANNEL_PAYMENTS = "payments"
    }
}
