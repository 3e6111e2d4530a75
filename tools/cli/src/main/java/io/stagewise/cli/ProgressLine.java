package io.stagewise.cli;

import java.io.PrintStream;
import java.io.PrintWriter;

/** One console line updated in place (carriage return), for long-running commands. */
final class ProgressLine {
    private final PrintWriter out;
    private final boolean interactive = System.console() != null;
    private long lastPrinted;
    private int lastLength;

    ProgressLine(PrintStream out) {
        this(new PrintWriter(out, true));
    }

    /** A progress line on a picocli command's writer ({@code spec.commandLine().getOut()}). */
    ProgressLine(PrintWriter out) {
        this.out = out;
    }

    /** Redraws the line; without a terminal, prints a plain line at most every 5 seconds. */
    synchronized void update(String text) {
        long now = System.currentTimeMillis();
        if (interactive) {
            if (now - lastPrinted < 100) {
                return;
            }
            out.print("\r" + text + " ".repeat(Math.max(0, lastLength - text.length())));
            out.flush();
            lastLength = text.length();
        } else {
            if (now - lastPrinted < 5000) {
                return;
            }
            out.println(text);
        }
        lastPrinted = now;
    }

    /** Prints the final state and ends the line. */
    synchronized void finish(String text) {
        if (interactive) {
            out.println("\r" + text + " ".repeat(Math.max(0, lastLength - text.length())));
        } else {
            out.println(text);
        }
        lastLength = 0;
    }

    static String bar(long done, long total) {
        int width = 20;
        int filled = total == 0 ? width : (int) Math.min(width, done * width / total);
        return "[" + "#".repeat(filled) + ".".repeat(width - filled) + "] " + done + "/" + total;
    }
}
