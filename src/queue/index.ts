export { INFERENCE_QUEUE, parseRedisUrl, type RedisTarget } from "./connection.js";
export { QueueCoordinator } from "./coordinator.js";
export { type RunningWorker, startWorker, type WorkerOptions } from "./worker.js";
