// The Android app: the activity and everything only a phone does (CameraX + ML Kit, Android
// Keystore, BiometricPrompt, notifications), the screens from :ui, and the Rust core through
// the committed uniffi bindings (bindings/generated/kotlin-android, the Android flavour) and
// libchiiki_ffi.so from bindings/build-android.sh in src/main/jniLibs.
import java.util.Properties

plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

// Release signing from keystore.properties beside this project (never committed), or from the
// environment on CI (fastlane sets CHIIKI_UPLOAD_KEYSTORE and friends).
val signing = Properties().apply {
    rootProject.file("keystore.properties").takeIf { it.isFile }?.inputStream()?.use { load(it) }
}
fun signingValue(key: String, env: String): String? = signing.getProperty(key) ?: System.getenv(env)

// rustls-platform-verifier (reqwest's certificate verifier in libchiiki_ffi) calls a Kotlin
// component through JNI, and the two must be the same release: its version is the one of the
// `rustls-platform-verifier-android` crate in the workspace's Cargo.lock, read here as that
// crate's README says (a ValueSource, so the configuration cache notices a changed lockfile).
abstract class RustlsPlatformVerifierVersion : ValueSource<String, RustlsPlatformVerifierVersion.Params> {
    interface Params : ValueSourceParameters {
        val lockFile: RegularFileProperty
    }

    override fun obtain(): String {
        val lockFile = parameters.lockFile.get().asFile
        val lines = lockFile.readLines()
        val name = lines.indexOfFirst { it.trim() == "name = \"$CRATE\"" }
        return lines.drop(name + 1).takeIf { name >= 0 }
            ?.firstOrNull { it.trimStart().startsWith("version = ") }
            ?.substringAfter('"')?.substringBefore('"')
            ?.takeIf { it.isNotEmpty() }
            ?: error("$CRATE not found in $lockFile")
    }

    companion object {
        const val CRATE = "rustls-platform-verifier-android"
    }
}

val rustlsPlatformVerifierVersion = providers.of(RustlsPlatformVerifierVersion::class.java) {
    parameters.lockFile.set(layout.projectDirectory.file("../../Cargo.lock"))
}

configurations.configureEach {
    resolutionStrategy.eachDependency {
        if (requested.group == "org.rustls" && requested.name == "rustls-platform-verifier") {
            useVersion(rustlsPlatformVerifierVersion.get())
            because("the Kotlin component must match ${RustlsPlatformVerifierVersion.CRATE} in Cargo.lock")
        }
    }
}

android {
    namespace = "jp.chiiki.app"
    compileSdk = 36

    defaultConfig {
        applicationId = "jp.chiiki.midori"
        minSdk = 30
        targetSdk = 36
        // fastlane's android lanes pass these; Android Studio builds use the defaults.
        versionCode = (project.findProperty("chiiki.versionCode") as String?)?.toInt() ?: 1
        versionName = (project.findProperty("chiiki.versionName") as String?) ?: "0.1.0"
        ndk {
            // The ABIs bindings/build-android.sh builds.
            abiFilters += listOf("arm64-v8a", "armeabi-v7a")
        }
    }

    signingConfigs {
        create("release") {
            signingValue("storeFile", "CHIIKI_UPLOAD_KEYSTORE")?.let { storeFile = file(it) }
            storePassword = signingValue("storePassword", "CHIIKI_UPLOAD_KEYSTORE_PASSWORD")
            keyAlias = signingValue("keyAlias", "CHIIKI_UPLOAD_KEY_ALIAS")
            keyPassword = signingValue("keyPassword", "CHIIKI_UPLOAD_KEY_PASSWORD")
        }
    }

    buildTypes {
        debug {
            // The demo server on the development machine, as the emulator sees it.
            buildConfigField("String", "SERVER_URL", "\"http://10.0.2.2:8080\"")
            applicationIdSuffix = ".debug"
        }
        release {
            buildConfigField("String", "SERVER_URL", "\"https://midori.chiiki.jp\"")
            isMinifyEnabled = true
            isShrinkResources = true
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
            signingConfig = signingConfigs.getByName("release").takeIf { it.storeFile != null }
        }
    }

    sourceSets {
        getByName("main") {
            // The committed generated bindings, exactly as bindings/generate.sh wrote them.
            kotlin.srcDir("../../bindings/generated/kotlin-android")
        }
    }

    buildFeatures {
        compose = true
        buildConfig = true
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    packaging {
        jniLibs {
            // Store the .so files uncompressed and page-aligned (16 KB pages, Android 15+).
            useLegacyPackaging = false
        }
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(project(":ui"))

    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.fragment.ktx)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(libs.androidx.lifecycle.process)
    implementation(libs.androidx.biometric)

    implementation(libs.androidx.camera.camera2)
    implementation(libs.androidx.camera.lifecycle)
    implementation(libs.androidx.camera.view)
    implementation(libs.androidx.camera.mlkit.vision)
    implementation(libs.mlkit.barcode.scanning)

    implementation(platform(libs.compose.bom))
    implementation(libs.compose.material3)
    implementation(libs.compose.ui.tooling.preview)
    debugImplementation(libs.compose.ui.tooling)

    // JNA for the uniffi bindings: the Android archive carries libjnidispatch for each ABI.
    implementation("${libs.jna.get().module}:${libs.versions.jna.get()}@aar")
    // The Android half of the Rust TLS verifier (PlatformVerifier.init hands it the Context);
    // versionless here, its version comes from Cargo.lock (above).
    implementation(libs.rustls.platform.verifier)

    testImplementation(libs.junit)
}
