// The workflow bundle's entry point: every workflow the worker runs.
export { accessRequest } from './accessRequest';
export { reconcile } from './reconcile';
