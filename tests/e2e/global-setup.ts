// Bundles the fake Tauri shell (mock/tauri-mock.ts) into one script that the fixtures inject
// with page.addInitScript before the app's own code runs.
import { build } from "esbuild";
import * as path from "node:path";
import { MOCK_BUNDLE, UI_DIR } from "./paths";

export default async function globalSetup() {
  await build({
    entryPoints: [path.join(__dirname, "mock", "tauri-mock.ts")],
    outfile: MOCK_BUNDLE,
    bundle: true,
    format: "iife",
    target: "es2021",
    platform: "browser",
    // The dependencies live in ui/node_modules (one `npm ci` in ui/ installs everything).
    nodePaths: [path.join(UI_DIR, "node_modules")],
    logLevel: "warning",
  });
}
