export { isLoopback, startViewer, type Viewer, type ViewerOptions } from "./server.js";
export { INDEX_FILE, TrialIndex } from "./trial-index.js";
