package org.fmsmo.core.cli;

import java.io.PrintWriter;
import org.fmsmo.api.ErrorCode;
import org.fmsmo.api.FmsmoException;
import org.fmsmo.api.SpiVersion;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code fmsmo} command line. Each task is a subcommand class of its own; a new one is added
 * to {@code subcommands} here. Failures print one {@code error:} line and exit with the status of
 * their {@link org.fmsmo.api.ErrorCode}.
 */
@Command(name = "fmsmo", mixinStandardHelpOptions = true, versionProvider = Main.Version.class, scope = CommandLine.ScopeType.INHERIT,
        description = "FMS Model Optimizer for the JVM: quantize models, list plugins, evaluate.",
        subcommands = {PluginsCommand.class, EvalCommand.class, ImportOnnxCommand.class, BenchCommand.class, RecipesCommand.class,
                AnalyzeCommand.class, QuantizeCommand.class, SensitivityCommand.class, ExportCommand.class, QdqCommand.class, SynthesizeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Set once the command has returned: a shutdown hook that runs before is an interruption. */
    private static volatile boolean finished;

    /** Runs the CLI and exits the JVM with its status (130 after SIGINT, 143 after SIGTERM, set by the JVM). */
    public static void main(String[] args) {
        PrintWriter err = new PrintWriter(System.err, true);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!finished) {
                interrupted(args, err);
            }
        }, "fmsmo-interrupt"));
        int status = run(args, new PrintWriter(System.out, true), err);
        finished = true;
        System.exit(status);
    }

    /**
     * Ctrl-C or a kill: says what was interrupted and what became of its outputs. The work may
     * still be running on the main thread; the JVM stops it when this returns.
     */
    private static void interrupted(String[] args, PrintWriter err) {
        String command = args.length == 0 || args[0].startsWith("-") ? "fmsmo" : "fmsmo " + args[0];
        java.util.List<String> outputs = org.fmsmo.core.io.OutputFiles.interrupted();
        err.println();
        err.println("error: interrupted: " + command + " stopped before it finished; "
                + (outputs.isEmpty() ? "no output was written" : String.join("; ", outputs)));
        err.flush();
    }

    /** Runs the CLI with the given streams and returns the exit status (for tests and embedding). */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new Main());
        cl.setOut(out);
        cl.setErr(err);
        // A flag picocli cannot parse (--seq-len 1e9, --seed abc, a missing required option) gets
        // the one error line every other failure gets, and a pointer to the command's help,
        // rather than the whole usage text.
        cl.setParameterExceptionHandler((ex, ignored) -> {
            CommandLine c = ex.getCommandLine();
            c.getErr().println("error: " + ex.getMessage());
            c.getErr().println("(see: " + c.getCommandSpec().qualifiedName() + " --help)");
            return ErrorCode.INVALID_ARGUMENT.exitStatus();
        });
        cl.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (org.fmsmo.core.io.OutputFiles.stopping()) {
                return ErrorCode.IO_ERROR.exitStatus(); // the work failed because it was interrupted: the interruption's line says so
            }
            if (ex instanceof FmsmoException fe) {
                commandLine.getErr().println("error: " + fe.getMessage());
                return fe.code().exitStatus();
            }
            if (ex instanceof java.util.concurrent.CancellationException c) {
                commandLine.getErr().println("error: stopped (" + c.getMessage() + ")");
                return 130;
            }
            // Anything else is a defect of fmsmo, not of the input: still one line, and the trace on request.
            commandLine.getErr().println("error: internal error: " + ex + " (a bug in fmsmo; set FMSMO_DEBUG=1 to print the stack trace)");
            if (System.getenv("FMSMO_DEBUG") != null) {
                ex.printStackTrace(commandLine.getErr());
            }
            return ErrorCode.INTERNAL.exitStatus();
        });
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError oom) {
            err.println(String.format(java.util.Locale.ROOT, "error: out of memory (%s) with a Java heap of at most %.1f GB;"
                    + " give the JVM more with FMSMO_JAVA_OPTS=-Xmx<size>", oom.getMessage(), Runtime.getRuntime().maxMemory() / 1e9));
            return ErrorCode.IO_ERROR.exitStatus();
        }
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** {@code --version}: the fmsmo build and the SPI version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String impl = Main.class.getPackage().getImplementationVersion();
            return new String[] {"fmsmo " + (impl == null ? "(development build)" : impl) + ", SPI " + SpiVersion.current()};
        }
    }
}
