import { render } from "preact";
import { refreshAccount } from "./account";
import { App } from "./components/App";
import { registerServiceWorker } from "./pwa";
import { startRouter } from "./router";
import "./styles.css";
import "./pwa.css";

startRouter();
void refreshAccount();
render(<App />, document.getElementById("app")!);
registerServiceWorker();
