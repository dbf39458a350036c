// Load real Pyodide (the npm package) in Node, offline, and run tests/pyodide/inside.py in it.
// usage: node run.mjs PYODIDE_DIR WHEELS_DIR LEADQ_WHEEL
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const [pyodideDir, wheelsDir, leadqWheel] = process.argv.slice(2);
const here = path.dirname(fileURLToPath(import.meta.url));
globalThis.fetch = async (url) => { throw new Error(`offline test: no network (tried to fetch ${url})`); };
const { loadPyodide } = await import(path.join(path.resolve(pyodideDir), "pyodide.mjs"));
const pyodide = await loadPyodide({ indexURL: path.resolve(pyodideDir) + "/", stdout: (s) => console.log(s),
                                    stderr: (s) => console.error(s) });
const wheels = fs.readdirSync(wheelsDir).filter((w) => w.endsWith(".whl"));
// micropip and packaging are not in the npm package: load them from their wheels (files, not URLs)
for (const w of wheels.filter((w) => /^(micropip|packaging)-/.test(w))) {
  await pyodide.loadPackage(path.resolve(wheelsDir, w), { messageCallback: () => {} });
}
pyodide.FS.mkdirTree("/wheels");
const others = [];
for (const w of [...wheels.filter((w) => !/^(micropip|packaging)-/.test(w)), leadqWheel]) {
  const name = path.basename(w);
  pyodide.FS.writeFile(`/wheels/${name}`, fs.readFileSync(path.resolve(wheelsDir, w)));
  if (w !== leadqWheel) others.push(`/wheels/${name}`);
}
pyodide.FS.mkdirTree("/shims");
for (const f of ["rpds.py", "stubs.py"]) pyodide.FS.writeFile(`/shims/${f}`, fs.readFileSync(path.join(here, f)));
pyodide.FS.writeFile("/shims/inside.py", fs.readFileSync(path.join(here, "inside.py")));
await pyodide.runPythonAsync(`
import sys
sys.path.insert(0, "/shims")
import inside
await inside.main(${JSON.stringify(others)}, "/wheels/${path.basename(leadqWheel)}")
`);
