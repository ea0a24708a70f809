/**
 * Export formats: one-file models for runtimes outside the Hugging Face world (GGUF, ONNX),
 * written from a loaded model and read back to be evaluated.
 */
package org.fmsmo.api.export;
