/** Checkpoints in and out: the installed formats that write and decode quantized layers, and the native (fms) checkpoint. */
package org.fmsmo.core.format;
