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
    }
}

rootProject.name = "chiiki"
include(":app", ":ui")
