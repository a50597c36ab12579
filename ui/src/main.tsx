import { render } from "preact";
import { refreshAccount } from "./account";
import { App } from "./components/App";
import { startRouter } from "./router";
import "./styles.css";

startRouter();
void refreshAccount();
render(<App />, document.getElementById("app")!);
