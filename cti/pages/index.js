// The index page: links and the language toggle.
import { applyI18n, wireHeader } from "./common.js";

applyI18n();
wireHeader();
