export { type Cas, loadCas } from "./cas.js";
export { type EquivalenceOptions, equivalentSync, mathEquivalent, NeedsCas } from "./equivalent.js";
export {
  DEFAULT_FALLBACKS,
  type Extracted,
  type ExtractMethod,
  extractAnswer,
  lastBoxed,
} from "./extract.js";
export { cleanAnswer, hendrycksNormalize, minervaNormalize } from "./normalize.js";
export { isMathArtifact, type MathArtifact, math, mathExact } from "./scorers.js";
