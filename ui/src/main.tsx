import { render } from "preact";
import { App } from "./components/App";
import { registerServiceWorker } from "./pwa";
import { startRouter } from "./router";
import "./styles.css";
import "./pwa.css";

startRouter();
render(<App />, document.getElementById("app")!);
registerServiceWorker();
