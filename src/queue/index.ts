export { EXECUTION_QUEUE, INFERENCE_QUEUE, parseRedisUrl, type RedisTarget } from "./connection.js";
export { QueueCoordinator } from "./coordinator.js";
export {
  QUEUED_PHASES,
  type QueuedPhase,
  type RunningWorker,
  startWorker,
  type WorkerOptions,
} from "./worker.js";
