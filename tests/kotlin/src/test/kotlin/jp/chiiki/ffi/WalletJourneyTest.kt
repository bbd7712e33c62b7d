// The resident app driven from Kotlin on a JVM, through the committed generated bindings and the
// real cdylib, against a real `chiiki serve` on a free port with its own SQLite file: the same
// calls an Android shell makes, with the bindings' software device key in place of the Keystore.
package jp.chiiki.ffi

import java.net.ServerSocket
import java.net.Socket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicInteger
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Assertions.assertEquals
import org.junit.jupiter.api.Assertions.assertNotNull
import org.junit.jupiter.api.Assertions.assertThrows
import org.junit.jupiter.api.Assertions.assertTrue
import org.junit.jupiter.api.Assertions.fail
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir

private const val STAFF_LOGIN = "counter-admin"
private const val STAFF_PASSWORD = "counter-pass-2024"
private const val PHONE = "09012345678"
private const val PASSWORD = "resident-pass-1"
private const val PIN = "2468"

/** What a phone's shell does, minus drawing: counts renders, queues camera requests. */
class RecordingShell : WalletShell {
    val renders = AtomicInteger()
    val cameraRequests = LinkedBlockingQueue<ULong>()
    val notifications = LinkedBlockingQueue<Notification>()

    override fun render() {
        renders.incrementAndGet()
    }

    override fun openCamera(requestId: ULong) {
        cameraRequests.add(requestId)
    }

    override fun useDeviceKey(requestId: ULong, request: DeviceKeyRequest) {
        // Not called: these wallets use the bindings' software key (DeviceKeyStore.SOFTWARE).
        throw IllegalStateException("unexpected device key request $request")
    }

    override fun showNotification(notification: Notification) {
        notifications.add(notification)
    }
}

/** A `chiiki serve` with a fresh SQLite database and one staff account. */
class Server(dir: Path) {
    private val backend = System.getProperty("chiiki.backend")
        ?: fail("set -Dchiiki.backend to the chiiki server binary")
    private val database = "sqlite://${dir.resolve("chiiki.db")}"
    val port = ServerSocket(0).use { it.localPort }
    val origin = "http://127.0.0.1:$port"
    private val process: Process

    init {
        run(dir, "staff", "add", "--database-url", database, "--login", STAFF_LOGIN,
            "--password", STAFF_PASSWORD, "--role", "administrator")
        // Started in the temporary directory: with no programmes/ folder there, the server uses
        // its compiled-in Midori programme, moved so that today is inside the usage window.
        process = ProcessBuilder(backend, "serve", "--database-url", database,
            "--listen", "127.0.0.1:$port", "--shift-to-today")
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .redirectOutput(dir.resolve("server.log").toFile())
            .start()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (true) {
            try {
                Socket("127.0.0.1", port).close()
                break
            } catch (e: java.io.IOException) {
                if (System.nanoTime() > deadline) fail<Unit>("chiiki serve did not start")
                Thread.sleep(50)
            }
        }
    }

    private fun run(dir: Path, vararg args: String) {
        val process = ProcessBuilder(backend, *args)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .start()
        val output = process.inputStream.bufferedReader().readText()
        assertEquals(0, process.waitFor(), "chiiki ${args.first()}: $output")
    }

    /** The server vanishes at once, as when the phone loses its signal. */
    fun stop() {
        process.destroyForcibly()
        process.waitFor(10, TimeUnit.SECONDS)
    }
}

/** City staff at the counter and in the console, straight over the HTTP API. */
class Counter(private val origin: String) {
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()
    private var token: String? = null
    private var keys = 0

    init {
        token = field(post("/api/v1/sessions",
            """{"login":"$STAFF_LOGIN","password":"$STAFF_PASSWORD","device_name":"窓口"}"""), "token")
    }

    private fun post(path: String, json: String): String {
        val request = HttpRequest.newBuilder(URI.create(origin + path))
            .timeout(Duration.ofSeconds(30))
            .header("content-type", "application/json")
            .header("idempotency-key", "jvm-test-${++keys}")
            .apply { token?.let { header("authorization", "Bearer $it") } }
            .POST(HttpRequest.BodyPublishers.ofString(json))
            .build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertTrue(response.statusCode() in 200..299, "POST $path: ${response.statusCode()} ${response.body()}")
        return response.body()
    }

    private fun get(path: String): String {
        val request = HttpRequest.newBuilder(URI.create(origin + path)).GET().build()
        val response = http.send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(200, response.statusCode(), "GET $path: ${response.body()}")
        return response.body()
    }

    /** Look the resident up by their login (as they show it at the counter), charge in cash. */
    fun charge(amount: Int) {
        val lookup = HttpRequest.newBuilder(URI.create("$origin/api/v1/sessions"))
            .header("content-type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(
                """{"login":"$PHONE","password":"$PASSWORD","device_name":"窓口"}"""))
            .build()
        val residentId = field(http.send(lookup, HttpResponse.BodyHandlers.ofString()).body(), "resident_id")
        post("/api/v1/admin/charges",
            """{"resident_id":$residentId,"amount":$amount,"method":"cash","receipt_number":"R-0001"}""")
    }

    /** A bakery in 大間々町, approved; its printed store code. */
    fun approvedStoreCode(): String {
        val store = post("/api/v1/admin/stores",
            """{"name":"みどりベーカリー","kana":"ミドリベーカリー","romanised_name":"MIDORI BAKERY",
               |"industry":"bakery","district":"大間々町","address":"大間々1-1",
               |"postal_code":"376-0101"}""".trimMargin())
        val id = field(store, "id")
        post("/api/v1/admin/stores/$id/approve", "{}")
        return field(get("/api/v1/stores/$id/code"), "payload")
    }

    /** One top-level field of a flat JSON object: enough for these answers, no JSON library. */
    private fun field(json: String, name: String): String {
        val match = Regex(""""$name"\s*:\s*("((?:[^"\\]|\\.)*)"|-?\d+)""").find(json)
            ?: fail("no $name in $json")
        return match.groupValues[2].ifEmpty { match.groupValues[1] }
    }
}

class WalletJourneyTest {
    @TempDir
    lateinit var dir: Path

    private val opened = mutableListOf<Wallet>()

    @AfterEach
    fun closeWallets() {
        opened.forEach { it.close() }
    }

    private fun open(shell: WalletShell): Wallet {
        val config = WalletConfig(
            dataDir = dir.resolve("phone").toString(),
            deviceKey = DeviceKeyStore.SOFTWARE,
            requestTimeoutSecs = 10u,
        )
        return Wallet(config, shell).also { opened.add(it) }
    }

    /** Wait until no request is in flight and [done] holds for the view; give that view. */
    private fun <T> Wallet.awaitView(what: String, done: (ViewModel) -> T?): T {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (true) {
            // Quiet first, then the view: read the other way round, a view taken just before
            // the last answer arrived would pass for the settled one.
            val quiet = requestsInFlight() == 0u
            val view = view()
            if (quiet) {
                done(view)?.let { return it }
            }
            if (System.nanoTime() > deadline) fail<Unit>("waited for $what; last view: $view")
            Thread.sleep(20)
        }
    }

    private fun Wallet.home(what: String, test: (HomeView) -> Boolean = { true }): HomeView =
        awaitView(what) { (it.screen as? ScreenView.Home)?.view?.takeIf(test) }

    /** Wait for the pay screen to reach step [T]. */
    private inline fun <reified T : PayView> Wallet.payStep(what: String): T =
        awaitView(what) { (it.screen as? ScreenView.Pay)?.view as? T }

    /** Pay tapped, the camera opened, the store's code read. */
    private fun Wallet.scan(shell: RecordingShell, payload: String) {
        dispatch(Event.PayTapped)
        val camera = shell.cameraRequests.poll(10, TimeUnit.SECONDS) ?: fail("the camera was not opened")
        resolveScan(camera, ScanOutcome.Scanned(payload))
    }

    @Test
    fun `a resident registers, pays a store with the PIN, and sees it all offline`() {
        val server = Server(dir)
        try {
            journey(server)
        } finally {
            server.stop()
        }
    }

    private fun journey(server: Server) {
        val shell = RecordingShell()
        val wallet = open(shell)
        wallet.dispatch(Event.Started(server.origin, "JVM テスト端末"))
        wallet.awaitView("the login screen") { it.screen as? ScreenView.Login }
        assertTrue(shell.renders.get() > 0, "the shell was told to draw")

        // Register: the form's districts come from the programme.
        wallet.dispatch(Event.RegistrationOpened)
        val form = wallet.awaitView("the registration form") { view ->
            (view.screen as? ScreenView.Registration)?.view?.takeIf { it.districts.isNotEmpty() }
        }
        assertTrue("大間々町" in form.districts, "${form.districts}")
        wallet.dispatch(Event.RegistrationSubmitted(RegistrationForm(
            name = "山田 花子", kana = "やまだ はなこ", birthDate = "1980-04-01",
            postalCode = "376-0101", district = "大間々町", address = "大間々1-2-3",
            phone = "090-1234-5678", email = "", password = PASSWORD, pin = PIN, pinAgain = PIN,
        )))
        wallet.home("home after registration")

        // Log out and in again, as on a new phone.
        wallet.dispatch(Event.LogoutTapped)
        wallet.awaitView("the login screen after logout") { it.screen as? ScreenView.Login }
        wallet.dispatch(Event.LoginSubmitted(PHONE, PASSWORD))
        val home = wallet.home("home after login") { it.lastUpdated != null }
        assertEquals("山田 花子 さん", home.greeting)
        assertEquals("¥0", home.total)

        // The counter charges ¥3,000; a refresh shows it.
        val counter = Counter(server.origin)
        counter.charge(3000)
        wallet.dispatch(Event.RefreshRequested)
        assertEquals("¥3,000", wallet.home("the charged balance") { it.total == "¥3,000" }.total)

        // Scan the store's code, pay ¥1,200 with the PIN.
        val storeCode = counter.approvedStoreCode()
        wallet.scan(shell, storeCode)
        val amount = wallet.payStep<PayView.Amount>("the amount screen")
        assertEquals("みどりベーカリー", amount.storeName)
        assertEquals("大間々町", amount.district)
        wallet.dispatch(Event.AmountEntered("1,200"))
        wallet.dispatch(Event.AmountConfirmed)
        val pin = wallet.payStep<PayView.Pin>("the PIN screen")
        assertEquals("¥1,200", pin.amount)
        wallet.dispatch(Event.PinEntered(PIN))
        val receipt = wallet.payStep<PayView.Receipt>("the receipt")
        assertEquals("みどりベーカリー", receipt.storeName)
        assertEquals("¥1,200", receipt.amount)
        assertEquals("¥1,800", receipt.balanceAfter)

        wallet.dispatch(Event.HomeOpened)
        assertEquals("¥1,800", wallet.home("home after paying") { it.total == "¥1,800" }.total)

        // History lists the payment.
        wallet.dispatch(Event.HistoryOpened)
        val history = wallet.awaitView("the history") { (it.screen as? ScreenView.History)?.view }
        val payment = history.rows.firstOrNull { it.title == "みどりベーカリー" } ?: fail("no payment in ${history.rows}")
        assertEquals("-¥1,200", payment.amount)

        // The premium set sale: today is past the application window (the lottery is not drawn),
        // so the screen says so, names the dates, and an application is refused in plain words.
        wallet.dispatch(Event.SaleOpened)
        val sale = wallet.awaitView("the sale screen") { view ->
            (view.screen as? ScreenView.Sale)?.view?.takeIf { it.loading == null }
        }
        assertEquals("申込期間は終わりました。抽選の結果をお待ちください。", sale.status)
        assertEquals("申込期間", sale.schedule.first().label)
        assertEquals(null, sale.applyLabel)
        wallet.dispatch(Event.SetsChosen(1))
        wallet.dispatch(Event.ApplySubmitted)
        val late = wallet.awaitView("the application window message") { it.alert }
        assertTrue(late.message.startsWith("申込期間（") && late.message.contains("ではないため"), late.message)
        wallet.dispatch(Event.AlertDismissed)

        // A wrong PIN is explained, and nothing is charged.
        wallet.dispatch(Event.HomeOpened)
        wallet.scan(shell, storeCode)
        wallet.payStep<PayView.Amount>("the amount screen again")
        wallet.dispatch(Event.AmountEntered("100"))
        wallet.dispatch(Event.AmountConfirmed)
        wallet.dispatch(Event.PinEntered("9999"))
        val refused = wallet.awaitView("the wrong PIN message") { it.alert }
        assertTrue(refused.message.contains("暗証番号が違います"), refused.message)
        wallet.payStep<PayView.Pin>("the PIN screen after a wrong PIN")
        wallet.dispatch(Event.AlertDismissed)
        wallet.dispatch(Event.PaymentCancelled)

        // The server is gone; the app is started again on the same data directory.
        server.stop()
        wallet.close()
        opened.remove(wallet)
        val offlineShell = RecordingShell()
        val offline = open(offlineShell)
        offline.dispatch(Event.Started(server.origin, "JVM テスト端末"))
        val cached = offline.awaitView("the offline banner over the cached home") { view ->
            (view.screen as? ScreenView.Home)?.view?.takeIf { view.offlineBanner != null }
        }
        assertEquals("¥1,800", cached.total)
        offline.dispatch(Event.HistoryOpened)
        val cachedHistory = offline.awaitView("the cached history") { (it.screen as? ScreenView.History)?.view }
        assertTrue(cachedHistory.rows.any { it.title == "みどりベーカリー" && it.amount == "-¥1,200" },
            "${cachedHistory.rows}")

        // The resident code needs no network.
        offline.dispatch(Event.MyCodeOpened)
        val code = offline.awaitView("the resident code") { view ->
            (view.screen as? ScreenView.MyCode)?.view?.takeIf { it.payload != null }
        }
        assertTrue(code.payload!!.startsWith("CKR:"), code.payload)
        assertNotNull(code.svg)
    }

    @Test
    fun `misuse of the facade raises an exception whose message says what happened`() {
        val wallet = open(RecordingShell())
        val unknown = assertThrows(WalletException.UnknownRequest::class.java) {
            wallet.resolveScan(99uL, ScanOutcome.Cancelled)
        }
        assertEquals("no platform request 99 is waiting for an answer", unknown.message)
        val industry = assertThrows(WalletException.UnknownIndustry::class.java) {
            wallet.dispatch(Event.IndustryChosen("casino"))
        }
        assertEquals("\"casino\" is not an industry code", industry.message)
    }
}
