/** Evaluation of models: perplexity, embedding fidelity, size and throughput. */
package org.fmsmo.core.eval;
