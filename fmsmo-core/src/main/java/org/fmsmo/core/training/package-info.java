/** Quantization-aware training as the host provides it to methods: training batches and the losses, with distillation. */
package org.fmsmo.core.training;
