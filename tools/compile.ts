/**
 * `deno task compile`: one self-contained binary per script in dist/, each with the
 * permissions of lib/permissions.ts baked in (the same flags the tests run the scripts with).
 *
 * `deno compile` downloads its base runtime (denort) once; on a machine that cannot reach
 * Deno's download host, point DENORT_BIN at a local denort binary.
 */
import { PERMISSIONS, PROJECT_ROOT, type ScriptName } from "../lib/permissions.ts";

/** The `deno compile` arguments for `script`. */
export function compileArgs(script: ScriptName, target?: string): string[] {
  return [
    "compile",
    "--quiet",
    "--no-prompt",
    `--config=${PROJECT_ROOT}deno.json`,
    ...PERMISSIONS[script],
    ...(target ? ["--target", target] : []),
    "--output",
    `${PROJECT_ROOT}dist/${script}${target?.includes("windows") ? ".exe" : ""}`,
    `${PROJECT_ROOT}scripts/${script}.ts`,
  ];
}

if (import.meta.main) {
  const target = Deno.args[0];
  await Deno.mkdir(`${PROJECT_ROOT}dist`, { recursive: true });
  for (const script of Object.keys(PERMISSIONS) as ScriptName[]) {
    const { code } = await new Deno.Command(Deno.execPath(), { args: compileArgs(script, target) }).spawn().status;
    if (code !== 0) {
      console.error(`compiling ${script} failed (exit ${code})`);
      Deno.exit(code);
    }
    console.log(`dist/${script}: ${PERMISSIONS[script].join(" ")}`);
  }
}
