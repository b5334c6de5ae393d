/**
 * Headless Chromium (Debian's chromium-headless-shell) driven over the DevTools protocol with
 * Deno's own WebSocket: open a page, collect every console error and uncaught exception, run
 * script in it, take a screenshot. For tests and tools only; no npm package needed.
 */

/** Where Debian's package puts the browser. */
export const CHROMIUM_PATHS = ["/usr/bin/chromium-headless-shell", "/usr/lib/chromium/chromium-headless-shell"];

/** The installed browser's path, or null. */
export function findChromium(): string | null {
  for (const path of CHROMIUM_PATHS) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there; try the next
    }
  }
  return null;
}

/** A page in a running headless Chromium. */
export interface Browser extends AsyncDisposable {
  /** Console errors, uncaught exceptions and browser log errors (CSP, failed loads) seen so far. */
  errors: string[];
  /** Navigates and waits for the load event. */
  open(url: string): Promise<void>;
  /** Evaluates `expression` in the page (promises awaited) and returns its JSON value. */
  evaluate<T = unknown>(expression: string): Promise<T>;
  /** A PNG of the viewport. */
  screenshot(): Promise<Uint8Array>;
}

/** Starts the browser with a `width` x `height` viewport; throws with the way to install it when missing. */
export async function launchBrowser({ width = 1280, height = 900 } = {}): Promise<Browser> {
  const binary = findChromium();
  if (!binary) {
    throw new Error("chromium-headless-shell is not installed: run .ci/run (it installs it with apt)");
  }
  const profile = await Deno.makeTempDir({ prefix: "chromium-profile-" });
  const child = new Deno.Command(binary, {
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      `--window-size=${width},${height}`,
      "about:blank",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const close = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await stderr.cancel().catch(() => {});
    await child.status;
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  };
  try {
    let text = "";
    const deadline = Date.now() + 30_000;
    while (!/DevTools listening on (ws:\S+)/.test(text)) {
      if (Date.now() > deadline) throw new Error(`chromium did not start: ${text.slice(-500)}`);
      const { value, done } = await stderr.read();
      if (done) throw new Error(`chromium exited: ${text.slice(-500)}`);
      text += value;
    }
    const port = new URL(text.match(/DevTools listening on (ws:\S+)/)![1]).port;
    // Keep reading stderr so the browser never blocks on a full pipe.
    (async () => {
      while (!(await stderr.read().catch(() => ({ done: true }))).done) { /* drain */ }
    })();
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const page = targets.find((t: { type: string }) => t.type === "page");
    return await connect(page.webSocketDebuggerUrl, close);
  } catch (err) {
    await close();
    throw err;
  }
}

async function connect(url: string, close: () => Promise<void>): Promise<Browser> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
  });
  let id = 0;
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  const waiters: { method: string; resolve: () => void }[] = [];
  const errors: string[] = [];
  ws.onmessage = (event) => {
    const msg = JSON.parse(event.data);
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
      return;
    }
    const params = msg.params ?? {};
    if (msg.method === "Runtime.exceptionThrown") {
      const d = params.exceptionDetails;
      errors.push(`uncaught: ${d.exception?.description ?? d.text} (line ${d.lineNumber})`);
    } else if (msg.method === "Runtime.consoleAPICalled" && (params.type === "error" || params.type === "assert")) {
      errors.push(`console.${params.type}: ${params.args.map((a: { value?: unknown }) => a.value).join(" ")}`);
    } else if (msg.method === "Log.entryAdded" && params.entry.level === "error") {
      errors.push(`log: ${params.entry.text} ${params.entry.url ?? ""}`);
    }
    for (const w of waiters.filter((x) => x.method === msg.method)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  const send = (method: string, params: Record<string, unknown> = {}) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const n = ++id;
      pending.set(n, { resolve: resolve as (v: unknown) => void, reject });
      ws.send(JSON.stringify({ id: n, method, params }));
    });
  const event = (method: string) => new Promise<void>((resolve) => waiters.push({ method, resolve }));
  await send("Runtime.enable");
  await send("Log.enable");
  await send("Page.enable");
  return {
    errors,
    async open(target) {
      const loaded = event("Page.loadEventFired");
      await send("Page.navigate", { url: target });
      await loaded;
    },
    async evaluate<T>(expression: string) {
      const r = await send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
      const details = r.exceptionDetails as { exception?: { description?: string }; text: string } | undefined;
      if (details) throw new Error(`in the page: ${details.exception?.description ?? details.text}`);
      return (r.result as { value: T }).value;
    },
    async screenshot() {
      const r = await send("Page.captureScreenshot", { format: "png" });
      return Uint8Array.from(atob(r.data as string), (c) => c.charCodeAt(0));
    },
    async [Symbol.asyncDispose]() {
      const closed = new Promise((resolve) => ws.onclose = resolve);
      ws.close();
      await closed;
      await close();
    },
  };
}
