package dev.hydrant.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.HttpURLConnection;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.http.HttpServerTransport;
import org.opensearch.node.InternalSettingsPreparer;
import org.opensearch.node.Node;
import org.opensearch.plugins.Plugin;
import org.opensearch.transport.Netty4Plugin;

/**
 * Starts one embedded OpenSearch node for Hydrant's tests.
 *
 * <p>The node is a plain {@link Node} subclass handed its plugins as classpath classes (the way the
 * test framework's MockNode does it), so none of the distribution's Bootstrap runs: no bootstrap
 * checks, no refusal to run as root, no security manager, no JarHell scan, no plugins directory.
 *
 * <pre>
 * java -Xms256m -Xmx512m -cp 'DIR/lib/*:DIR/launcher.jar' dev.hydrant.testing.OpenSearchLauncher \
 *     --http-port PORT --data-dir DIR [--write-queue-size N] [--write-threads N] [--log-level LEVEL]
 *     [--exit-after-ready]
 * </pre>
 *
 * <p>Prints {@code OPENSEARCH READY http://127.0.0.1:PORT} on stdout once the node is started and
 * its HTTP API answers with cluster health at least yellow. New indices get 0 replicas
 * ({@code cluster.default_number_of_replicas}), so they go green. {@code --http-port 0} picks a free port
 * (read it from that line). Logs go to stderr. SIGTERM closes the node and the JVM exits.
 */
public final class OpenSearchLauncher {

    /** A Node with classpath plugins; Node's own validateNodeBeforeAcceptingRequests is a no-op. */
    static final class LauncherNode extends Node {
        LauncherNode(Environment environment, Collection<Class<? extends Plugin>> classpathPlugins) {
            super(environment, classpathPlugins, true);
        }
    }

    private static final String CLUSTER_NAME = "hydrant-test";
    private static final String NODE_NAME = "test";
    private static final String HOST = "127.0.0.1";

    private OpenSearchLauncher() {}

    public static void main(String[] args) {
        // The real stdout is kept for the READY line; nothing else of ours writes to it.
        final PrintStream out = System.out;
        final Options opts;
        try {
            opts = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("OpenSearchLauncher: " + e.getMessage());
            System.err.println(Options.USAGE);
            System.exit(2);
            return;
        }

        // Must be set before log4j or Netty classes load. These are the distribution's jvm.options
        // defaults for Netty, plus the log level read by log4j2.properties in launcher.jar.
        System.setProperty("hydrant.opensearch.log.level", opts.logLevel);
        setIfAbsent("io.netty.noUnsafe", "true");
        setIfAbsent("io.netty.noKeySetOptimization", "true");
        setIfAbsent("io.netty.recycler.maxCapacityPerThread", "0");
        setIfAbsent("io.netty.allocator.numDirectArenas", "0");
        setIfAbsent("log4j.shutdownHookEnabled", "false");
        setIfAbsent("log4j2.disable.jmx", "true");
        setIfAbsent("java.awt.headless", "true");

        final Node node;
        try {
            final Path dataDir = Paths.get(opts.dataDir).toAbsolutePath().normalize();
            final Path home = dataDir.resolve("home");
            final Path data = dataDir.resolve("data");
            final Path logs = home.resolve("logs");
            Files.createDirectories(home.resolve("config"));
            Files.createDirectories(data);
            Files.createDirectories(logs);

            final Settings.Builder settings = Settings.builder()
                .put("cluster.name", CLUSTER_NAME)
                .put("node.name", NODE_NAME)
                .put("path.home", home.toString())
                .put("path.data", data.toString())
                .put("path.logs", logs.toString())
                .put("network.host", HOST)
                .put("http.port", Integer.toString(opts.httpPort))
                // Ephemeral transport port: two nodes started in parallel never clash.
                .put("transport.port", "0")
                .put("discovery.type", "single-node")
                .put("rest.action.multi.allow_explicit_index", true)
                // A full-ish disk must not flip indices read-only or block shard allocation.
                .put("cluster.routing.allocation.disk.threshold_enabled", false)
                // The parent breaker counts real heap use by default; with a 512 MB heap under
                // concurrent bulk load that turns into unrelated 429 circuit_breaking_exceptions.
                .put("indices.breaker.total.use_real_memory", false)
                .put("action.auto_create_index", true);
            if (opts.writeQueueSize != null) {
                settings.put("thread_pool.write.queue_size", opts.writeQueueSize.intValue());
            }
            if (opts.writeThreads != null) {
                settings.put("thread_pool.write.size", opts.writeThreads.intValue());
            }

            final Environment environment = InternalSettingsPreparer.prepareEnvironment(
                settings.build(),
                Collections.emptyMap(),
                home.resolve("config"),
                () -> NODE_NAME
            );
            final List<Class<? extends Plugin>> plugins = List.of(Netty4Plugin.class);
            node = new LauncherNode(environment, plugins);
        } catch (Throwable t) {
            System.err.println("OpenSearchLauncher: failed to create the node");
            t.printStackTrace();
            System.exit(1);
            return;
        }

        final CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                if (node.awaitClose(20, TimeUnit.SECONDS) == false) {
                    System.err.println("OpenSearchLauncher: node did not close within 20s");
                }
            } catch (Throwable t) {
                System.err.println("OpenSearchLauncher: error while closing the node");
                t.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "hydrant-opensearch-shutdown"));

        final int port;
        try {
            node.start();
            port = node.injector().getInstance(HttpServerTransport.class).boundAddress().publishAddress().getPort();
            waitForHttp(port, 120_000);
            // One node: replicas could never be assigned and health would stay yellow. This is a
            // cluster-state setting (a node setting is ignored), so set it persistently here.
            node.client()
                .admin()
                .cluster()
                .prepareUpdateSettings()
                .setPersistentSettings(Settings.builder().put("cluster.default_number_of_replicas", 0))
                .get();
        } catch (Throwable t) {
            System.err.println("OpenSearchLauncher: failed to start the node");
            t.printStackTrace();
            // The shutdown hook closes whatever was started.
            System.exit(1);
            return;
        }

        out.println("OPENSEARCH READY http://" + HOST + ":" + port);
        out.flush();
        if (opts.exitAfterReady) {
            // Smoke run (build.sh uses it to record a class-data-sharing archive): the shutdown
            // hook closes the node, and the JVM exits 0.
            System.exit(0);
        }

        // Node threads keep the JVM alive; this just parks main until shutdown.
        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits until GET /_cluster/health?wait_for_status=yellow answers 200 (state recovered). */
    private static void waitForHttp(int port, long timeoutMillis) throws IOException, InterruptedException {
        final long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        final URL url = new URL("http://" + HOST + ":" + port + "/_cluster/health?wait_for_status=yellow&timeout=10s");
        IOException last = null;
        int lastStatus = -1;
        while (System.nanoTime() < deadline) {
            HttpURLConnection conn = null;
            try {
                conn = (HttpURLConnection) url.openConnection();
                conn.setConnectTimeout(2_000);
                conn.setReadTimeout(15_000);
                lastStatus = conn.getResponseCode();
                try (InputStream in = lastStatus < 400 ? conn.getInputStream() : conn.getErrorStream()) {
                    if (in != null) {
                        in.readAllBytes();
                    }
                }
                if (lastStatus == 200) {
                    return;
                }
            } catch (IOException e) {
                last = e;
            } finally {
                if (conn != null) {
                    conn.disconnect();
                }
            }
            Thread.sleep(50);
        }
        throw new IOException("HTTP on port " + port + " not ready in time (last status " + lastStatus + ")", last);
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    static final class Options {
        static final String USAGE = "usage: OpenSearchLauncher --http-port PORT --data-dir DIR "
            + "[--write-queue-size N] [--write-threads N] [--log-level off|error|warn|info|debug] [--exit-after-ready]";

        int httpPort = -1;
        String dataDir;
        Integer writeQueueSize;
        Integer writeThreads;
        String logLevel = "warn";
        boolean exitAfterReady;

        static Options parse(String[] args) {
            final Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                final String arg = args[i];
                if (arg.equals("-h") || arg.equals("--help")) {
                    throw new IllegalArgumentException("help requested");
                }
                if (arg.equals("--exit-after-ready")) {
                    o.exitAfterReady = true;
                    continue;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("missing value for " + arg);
                }
                final String value = args[++i];
                switch (arg) {
                    case "--http-port":
                        o.httpPort = parseInt(arg, value, 0, 65535);
                        break;
                    case "--data-dir":
                        o.dataDir = value;
                        break;
                    case "--write-queue-size":
                        o.writeQueueSize = parseInt(arg, value, -1, Integer.MAX_VALUE);
                        break;
                    case "--write-threads":
                        o.writeThreads = parseInt(arg, value, 1, 1024);
                        break;
                    case "--log-level":
                        o.logLevel = value;
                        break;
                    default:
                        throw new IllegalArgumentException("unknown option " + arg);
                }
            }
            if (o.httpPort < 0) {
                throw new IllegalArgumentException("--http-port is required (0 picks a free port)");
            }
            if (o.dataDir == null || o.dataDir.isEmpty()) {
                throw new IllegalArgumentException("--data-dir is required");
            }
            return o;
        }

        private static int parseInt(String name, String value, int min, int max) {
            final int n;
            try {
                n = Integer.parseInt(value.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + " wants an integer, got " + value);
            }
            if (n < min || n > max) {
                throw new IllegalArgumentException(name + " must be in [" + min + ", " + max + "], got " + n);
            }
            return n;
        }
    }
}
