/** Docker endpoints live in util/docker.ts, below the lab (lab/vm.ts pings its engine with them); still importable from here. */
export { describeEndpoint, dockerFromEndpoint, parseDockerHost, type Endpoint } from '../util/docker.js';
