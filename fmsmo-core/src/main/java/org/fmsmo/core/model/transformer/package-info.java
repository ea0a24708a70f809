/**
 * The host's decoder: one module tree and forward pass for every {@link org.fmsmo.api.arch.TransformerSpec}
 * (Llama, Mistral, Qwen, Gemma, Phi-3, Granite, Mixtral …), loaded whole ({@link TransformerForCausalLM})
 * or block by block from a mapped checkpoint ({@link TransformerStream}).
 */
package org.fmsmo.core.model.transformer;
