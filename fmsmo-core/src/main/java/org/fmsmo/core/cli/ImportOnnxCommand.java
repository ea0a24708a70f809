package org.fmsmo.core.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.core.io.onnx.OnnxBertImporter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code fmsmo import-onnx}: an ONNX BERT encoder to a Hugging Face folder. */
@Command(name = "import-onnx", description = "Convert a BERT encoder exported to ONNX into a Hugging Face model folder (written atomically).")
final class ImportOnnxCommand implements Callable<Integer> {

    @Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--onnx", required = true, paramLabel = "FILE", description = "The .onnx model.")
    Path onnx;

    @Option(names = "--tokenizer", required = true, paramLabel = "FILE", description = "Its tokenizer.json.")
    Path tokenizer;

    @Option(names = "--output", required = true, paramLabel = "DIR", description = "New folder to create.")
    Path output;

    @Option(names = "--num-heads", paramLabel = "N", description = "Attention heads, when the graph does not show them (checked against it when it does).")
    Integer numHeads;

    @Override
    public Integer call() {
        if (numHeads != null && numHeads <= 0) {
            throw new FmsmoException(ErrorCode.INVALID_ARGUMENT, "--num-heads " + numHeads + ": expected a positive head count");
        }
        Path dir = OnnxBertImporter.importModel(onnx, tokenizer, output, numHeads == null ? 0 : numHeads);
        spec.commandLine().getOut().println("wrote " + dir);
        return 0;
    }
}
