/**
 * The host's decoder: one module tree and forward pass for every {@link org.fmsmo.api.arch.DecoderSpec}
 * (Llama, Mistral, Qwen, Gemma, Phi-3, Granite, Mixtral …), loaded whole ({@link DecoderForCausalLM})
 * or block by block from a mapped checkpoint ({@link DecoderStream}).
 */
package org.fmsmo.core.model.decoder;
