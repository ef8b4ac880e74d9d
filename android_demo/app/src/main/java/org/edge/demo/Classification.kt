package org.edge.demo

import kotlin.math.exp

/** One ranked class: its index, its label from the manifest (or "class N"), and its probability. */
data class RankedClass(val index: Int, val label: String, val probability: Double)

object Classification {
    /** Softmax over logits (shifted by the max so exp cannot overflow), then the k most probable classes. */
    fun topK(logits: FloatArray, labels: List<String>?, k: Int = 5): List<RankedClass> {
        require(logits.isNotEmpty()) { "the model returned no values" }
        val max = logits.maxOrNull()!!.toDouble()
        val exps = DoubleArray(logits.size) { exp(logits[it] - max) }
        val total = exps.sum()
        return exps.indices
            .sortedByDescending { exps[it] }
            .take(k)
            .map { RankedClass(it, labels?.getOrNull(it) ?: "class $it", exps[it] / total) }
    }
}
