import * as path from "node:path";

export const UI_DIR = path.resolve(__dirname, "..", "..", "ui");
export const MOCK_BUNDLE = path.join(UI_DIR, "node_modules", ".cache", "lookahead-e2e", "tauri-mock.js");
export const SCREENSHOTS = path.join(__dirname, "screenshots");
export const PORT = 4173;
