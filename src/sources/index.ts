export { DATA_EXTENSIONS, selectSplit } from "./data-files.js";
export {
  type HubDataset,
  type HubDatasetRef,
  isHubDataset,
  openHubDataset,
  parseHubDatasetRef,
} from "./dataset.js";
export { type DownloadProgress, type HubSettings, hubSettings } from "./hub.js";
export { fetchHubModel, type HubModelFile, isHubModel } from "./model.js";
export { writeRowsJsonl } from "./rows.js";
