// Loading, login and registration. The fields hold what the resident types until they send it;
// whether it is right is the core's (and the server's) to say, in LoginUi.error and
// RegistrationUi.errors.
package jp.chiiki.ui.screens

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.heightIn
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.selection.selectable
import androidx.compose.foundation.selection.selectableGroup
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.RadioButton
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.Saver
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.semantics.Role
import androidx.compose.ui.semantics.heading
import androidx.compose.ui.semantics.semantics
import androidx.compose.ui.text.input.ImeAction
import androidx.compose.ui.text.input.KeyboardType
import androidx.compose.ui.text.input.PasswordVisualTransformation
import androidx.compose.ui.text.input.VisualTransformation
import androidx.compose.ui.unit.dp
import jp.chiiki.ui.Chrome
import jp.chiiki.ui.components.Busy
import jp.chiiki.ui.components.ErrorMessage
import jp.chiiki.ui.components.PrimaryButton
import jp.chiiki.ui.components.TitleBar
import jp.chiiki.ui.model.FormFieldUi
import jp.chiiki.ui.model.LoginUi
import jp.chiiki.ui.model.RegistrationFormUi
import jp.chiiki.ui.model.RegistrationUi
import jp.chiiki.ui.model.UiAction

@Composable
fun LoadingScreen(message: String) {
    Box(Modifier.fillMaxSize(), contentAlignment = Alignment.Center) {
        Column(horizontalAlignment = Alignment.CenterHorizontally) {
            Text(
                Chrome.APP_NAME,
                style = MaterialTheme.typography.headlineLarge,
                color = MaterialTheme.colorScheme.primary,
                modifier = Modifier.semantics { heading() },
            )
            Busy(message)
        }
    }
}

@Composable
fun LoginScreen(view: LoginUi, onAction: (UiAction) -> Unit) {
    var phone by rememberSaveable { mutableStateOf("") }
    // Kept in memory only: a password never goes into the saved instance state.
    var password by remember { mutableStateOf("") }
    val submit = { onAction(UiAction.SubmitLogin(phone, password)) }
    Column(Modifier.fillMaxSize()) {
        TitleBar(Chrome.TITLE_LOGIN)
        Column(
            Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 20.dp, vertical = 8.dp),
            verticalArrangement = Arrangement.spacedBy(16.dp),
        ) {
            Text(
                Chrome.APP_NAME,
                style = MaterialTheme.typography.headlineLarge,
                color = MaterialTheme.colorScheme.primary,
                modifier = Modifier.semantics { heading() },
            )
            view.error?.let { ErrorMessage(it) }
            OutlinedTextField(
                value = phone,
                onValueChange = { phone = it },
                label = { Text(Chrome.PHONE) },
                singleLine = true,
                enabled = !view.busy,
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Phone, imeAction = ImeAction.Next),
                modifier = Modifier.fillMaxWidth(),
            )
            OutlinedTextField(
                value = password,
                onValueChange = { password = it },
                label = { Text(Chrome.PASSWORD) },
                singleLine = true,
                enabled = !view.busy,
                visualTransformation = PasswordVisualTransformation(),
                keyboardOptions = KeyboardOptions(keyboardType = KeyboardType.Password, imeAction = ImeAction.Done),
                modifier = Modifier.fillMaxWidth(),
            )
            if (view.busy) {
                Busy(Chrome.BUSY)
            } else {
                PrimaryButton(Chrome.LOG_IN, onClick = submit)
            }
            TextButton(
                onClick = { onAction(UiAction.OpenRegistration) },
                enabled = !view.busy,
                modifier = Modifier.fillMaxWidth().heightIn(min = 48.dp),
            ) {
                Text(Chrome.TO_REGISTRATION, style = MaterialTheme.typography.bodyLarge)
            }
        }
    }
}

@Composable
fun RegistrationScreen(view: RegistrationUi, onAction: (UiAction) -> Unit) {
    var form by rememberSaveable(stateSaver = RegistrationFormSaver) { mutableStateOf(RegistrationFormUi()) }
    fun errorFor(field: FormFieldUi): String? =
        view.errors.filter { it.field == field }.joinToString("\n") { it.message }.ifEmpty { null }

    Column(Modifier.fillMaxSize()) {
        TitleBar(Chrome.TITLE_REGISTRATION, onBack = { onAction(UiAction.OpenLogin) })
        Column(
            Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(horizontal = 20.dp, vertical = 8.dp),
            verticalArrangement = Arrangement.spacedBy(12.dp),
        ) {
            errorFor(FormFieldUi.Form)?.let { ErrorMessage(it) }
            FormField(Chrome.NAME, form.name, errorFor(FormFieldUi.Name), !view.busy) { form = form.copy(name = it) }
            FormField(Chrome.KANA, form.kana, errorFor(FormFieldUi.Kana), !view.busy) { form = form.copy(kana = it) }
            FormField(Chrome.BIRTH_DATE, form.birthDate, errorFor(FormFieldUi.BirthDate), !view.busy) {
                form = form.copy(birthDate = it)
            }
            FormField(
                Chrome.POSTAL_CODE, form.postalCode, errorFor(FormFieldUi.PostalCode), !view.busy,
                keyboardType = KeyboardType.Number,
            ) { form = form.copy(postalCode = it) }
            DistrictChoice(view.districts, form.district, errorFor(FormFieldUi.District), !view.busy) {
                form = form.copy(district = it)
            }
            FormField(Chrome.ADDRESS, form.address, errorFor(FormFieldUi.Address), !view.busy) {
                form = form.copy(address = it)
            }
            FormField(
                Chrome.PHONE, form.phone, errorFor(FormFieldUi.Phone), !view.busy,
                keyboardType = KeyboardType.Phone,
            ) { form = form.copy(phone = it) }
            FormField(Chrome.EMAIL, form.email, null, !view.busy, keyboardType = KeyboardType.Email) {
                form = form.copy(email = it)
            }
            FormField(
                Chrome.PASSWORD, form.password, errorFor(FormFieldUi.Password), !view.busy,
                keyboardType = KeyboardType.Password, secret = true,
            ) { form = form.copy(password = it) }
            FormField(
                Chrome.PIN, form.pin, errorFor(FormFieldUi.Pin), !view.busy,
                keyboardType = KeyboardType.NumberPassword, secret = true,
            ) { form = form.copy(pin = it) }
            FormField(
                Chrome.PIN_AGAIN, form.pinAgain, errorFor(FormFieldUi.PinAgain), !view.busy,
                keyboardType = KeyboardType.NumberPassword, secret = true,
            ) { form = form.copy(pinAgain = it) }
            if (view.busy) {
                Busy(Chrome.BUSY)
            } else {
                PrimaryButton(Chrome.REGISTER, onClick = { onAction(UiAction.SubmitRegistration(form)) })
            }
            TextButton(
                onClick = { onAction(UiAction.OpenLogin) },
                modifier = Modifier.fillMaxWidth().heightIn(min = 48.dp),
            ) {
                Text(Chrome.TO_LOGIN, style = MaterialTheme.typography.bodyLarge)
            }
        }
    }
}

@Composable
private fun FormField(
    label: String,
    value: String,
    error: String?,
    enabled: Boolean,
    keyboardType: KeyboardType = KeyboardType.Text,
    secret: Boolean = false,
    onChange: (String) -> Unit,
) {
    OutlinedTextField(
        value = value,
        onValueChange = onChange,
        label = { Text(label) },
        isError = error != null,
        supportingText = error?.let { { Text(it) } },
        singleLine = true,
        enabled = enabled,
        visualTransformation = if (secret) PasswordVisualTransformation() else VisualTransformation.None,
        keyboardOptions = KeyboardOptions(keyboardType = keyboardType, imeAction = ImeAction.Next),
        modifier = Modifier.fillMaxWidth(),
    )
}

/** The programme's districts as a list of radio buttons: large targets, read one by one. */
@Composable
private fun DistrictChoice(
    districts: List<String>,
    chosen: String,
    error: String?,
    enabled: Boolean,
    onChoose: (String) -> Unit,
) {
    Column(Modifier.fillMaxWidth().selectableGroup()) {
        Text(
            Chrome.DISTRICT,
            style = MaterialTheme.typography.titleSmall,
            color = if (error != null) MaterialTheme.colorScheme.error else MaterialTheme.colorScheme.onSurface,
        )
        districts.forEach { district ->
            Row(
                Modifier.fillMaxWidth().heightIn(min = 48.dp)
                    .selectable(
                        selected = district == chosen,
                        enabled = enabled,
                        role = Role.RadioButton,
                        onClick = { onChoose(district) },
                    ),
                verticalAlignment = Alignment.CenterVertically,
            ) {
                RadioButton(selected = district == chosen, onClick = null, enabled = enabled)
                Text(district, style = MaterialTheme.typography.bodyLarge, modifier = Modifier.padding(start = 12.dp))
            }
        }
        error?.let {
            Text(it, color = MaterialTheme.colorScheme.error, style = MaterialTheme.typography.bodyMedium)
        }
    }
}

/**
 * Keeps the half-filled form across rotation and process death. The password and PINs are left
 * out: they are never written into the saved instance state, so they are typed again.
 */
private val RegistrationFormSaver = Saver<RegistrationFormUi, List<String>>(
    save = { arrayListOf(it.name, it.kana, it.birthDate, it.postalCode, it.district, it.address, it.phone, it.email) },
    restore = {
        RegistrationFormUi(
            name = it[0], kana = it[1], birthDate = it[2], postalCode = it[3],
            district = it[4], address = it[5], phone = it[6], email = it[7],
        )
    },
)
