export { type Cas, loadCas } from "./cas.js";
export { type EquivalenceOptions, equivalentSync, mathEquivalent, NeedsCas } from "./equivalent.js";
export { cleanAnswer, hendrycksNormalize, minervaNormalize } from "./normalize.js";
export { math, mathExact } from "./scorers.js";
