/**
 * The host side of {@link org.fmsmo.api.quant.QuantContext}: what a method runs on — the whole
 * model or one streamed block — with its calibration passes and GPTQ-style sequential stages.
 */
package org.fmsmo.core.context;
