// The Android app of Chiiki: the app module (Activity, CameraX, Keystore, biometrics,
// notifications, the generated bindings) and the screens module (Compose only, no android.*).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
        // rustls-platform-verifier's Kotlin component (the Rust TLS verifier calls it through JNI;
        // see app/build.gradle.kts): not on Maven Central but in a Maven repository its
        // maintainers serve from a branch of their GitHub repository. Only org.rustls comes from
        // there, and org.rustls from nowhere else.
        exclusiveContent {
            forRepository {
                maven {
                    name = "rustlsPlatformVerifier"
                    url = uri("https://github.com/rustls/rustls-platform-verifier/raw/maven-archive/android-release-support/maven/")
                }
            }
            filter { includeGroup("org.rustls") }
        }
    }
}

rootProject.name = "chiiki"
include(":app", ":ui")
