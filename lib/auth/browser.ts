/** Opening the authorize URL in the user's browser, where the machine has a launcher for it. */

/** Opens `url` with xdg-open (Linux) or open (macOS). A launcher that keeps running counts as success. */
export async function openBrowser(url: string): Promise<boolean> {
  const command = Deno.build.os === "darwin" ? "open" : Deno.build.os === "windows" ? null : "xdg-open";
  if (command === null) return false;
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, { args: [url], stdin: "null", stdout: "null", stderr: "null" }).spawn();
  } catch {
    return false; // no launcher installed, or not allowed: the URL is printed anyway
  }
  child.unref();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const launched = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(true), 3000));
  try {
    return await Promise.race([child.status.then((s) => s.success, () => false), launched]);
  } finally {
    clearTimeout(timer);
  }
}
