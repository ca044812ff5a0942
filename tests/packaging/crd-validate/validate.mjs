// Validate custom resources (HTTPRoute, ServiceMonitor, CloudNativePG Cluster) against the
// schemas of the pinned @kubernetes-models packages (package.json here; installed by
// scripts/test-deps with `npm ci`). Used by tests/packaging/custom_resources.py.
//
// Protocol, one node process per test run: the first stdout line is {"ready": {package: version}}
// (or the process exits non-zero with the reason on stderr). Then every stdin line is a JSON
// array of objects and gets one stdout line back: a JSON array with, per object, null (valid)
// or the error message.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";

const here = new URL(".", import.meta.url);

// API group -> the package whose models cover it. A kind of these groups the package lacks is
// an error, never a silent pass.
const PACKAGES = {
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
  "postgresql.cnpg.io": "@kubernetes-models/cloudnative-pg",
};

/** The installed versions must be the pinned ones: a stale node_modules fails loudly. */
function checkInstalled() {
  const wanted = JSON.parse(readFileSync(new URL("package.json", here), "utf8")).dependencies;
  const installed = {};
  for (const [name, version] of Object.entries(wanted)) {
    let found;
    try {
      found = JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, here), "utf8")).version;
    } catch {
      throw new Error(`${name} is not installed (run scripts/test-deps)`);
    }
    if (found !== version) {
      throw new Error(`${name} ${found} is installed, package.json pins ${version} (run scripts/test-deps)`);
    }
    installed[name] = found;
  }
  return installed;
}

const models = new Map();

async function modelFor(apiVersion, kind) {
  const key = `${apiVersion}/${kind}`;
  if (!models.has(key)) {
    const [group, version] = String(apiVersion).split("/");
    const pkg = PACKAGES[group];
    if (!pkg || !version || !/^[A-Za-z0-9]+$/.test(kind)) {
      models.set(key, null);
    } else {
      try {
        const module = await import(`${pkg}/${group}/${version}/${kind}`);
        models.set(key, module[kind] ?? null);
      } catch (err) {
        if (err?.code !== "ERR_PACKAGE_PATH_NOT_EXPORTED" && err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
        models.set(key, null);
      }
    }
  }
  return models.get(key);
}

async function validateOne(object) {
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    return "not an object";
  }
  const Model = await modelFor(object.apiVersion, object.kind);
  if (!Model) {
    return `no schema for ${object.apiVersion} ${object.kind}`;
  }
  try {
    new Model(object).validate();
    return null;
  } catch (err) {
    return String(err?.message ?? err);
  }
}

let installed;
try {
  installed = checkInstalled();
} catch (err) {
  process.stderr.write(`crd-validate: ${err.message}\n`);
  process.exit(2);
}
process.stdout.write(`${JSON.stringify({ ready: installed })}\n`);

for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
  if (!line.trim()) continue;
  const objects = JSON.parse(line);
  const results = [];
  for (const object of objects) results.push(await validateOne(object));
  process.stdout.write(`${JSON.stringify(results)}\n`);
}
