pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    // Only the repositories below: every artifact comes from a known place at a pinned version.
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()        // AGP, androidx, LiteRT (com.google.ai.edge.litert is on Google Maven only)
        mavenCentral()  // executorch-android, onnxruntime-android, kotlinx
    }
}

rootProject.name = "EdgeDemo"
include(":app")
