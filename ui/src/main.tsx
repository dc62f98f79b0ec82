import { render } from "preact";
import { App } from "./App";
import "./styles.css";

// Block the browser's own context menu and reload keys in the packaged app only.
if (import.meta.env.PROD) {
  window.addEventListener("keydown", (e) => {
    if (e.key === "F5" || ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "r")) e.preventDefault();
  });
}

render(<App />, document.getElementById("app")!);
