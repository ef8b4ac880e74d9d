plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.serialization)
}

android {
    namespace = "org.edge.demo"
    compileSdk = 36

    defaultConfig {
        applicationId = "org.edge.demo"
        // 26 (Android 8.0): LiteRT 2.x needs 24, and java.time (record timestamps) needs 26.
        minSdk = 26
        targetSdk = 36
        versionCode = 1
        versionName = "1.0"
        // The runtime versions go into every profile record, straight from the version catalog.
        buildConfigField("String", "EXECUTORCH_VERSION", "\"${libs.versions.executorch.get()}\"")
        buildConfigField("String", "LITERT_VERSION", "\"${libs.versions.litert.get()}\"")
        buildConfigField("String", "ONNXRUNTIME_VERSION", "\"${libs.versions.onnxruntime.get()}\"")
        ndk {
            // Phones are arm64; x86_64 lets the classifier UI run on an emulator (never benchmark there).
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    buildTypes {
        release {
            // Benchmarks use the release build; the debug keystore signs it so it installs with adb.
            isMinifyEnabled = false
            signingConfig = signingConfigs.getByName("debug")
        }
    }

    buildFeatures {
        buildConfig = true
    }

    androidResources {
        // Models are copied out of the APK once; storing them uncompressed makes that a plain copy.
        noCompress += listOf("pte", "tflite", "ort", "onnx")
    }

    packaging {
        jniLibs {
            // More than one runtime AAR may carry the NDK's C++ runtime; one copy is enough.
            pickFirsts += "**/libc++_shared.so"
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    jvmToolchain(17)
}

dependencies {
    implementation(libs.androidx.activity)
    implementation(libs.androidx.core)
    implementation(libs.kotlinx.serialization.json)
    implementation(libs.executorch.android)
    implementation(libs.litert)
    implementation(libs.mediapipe.tasks.vision)
    implementation(libs.onnxruntime.android)
}
