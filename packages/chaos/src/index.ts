export { ChaosCluster, Node, type ClusterSettings } from "./cluster";
export { Fleet, type FleetOptions } from "./fleet";
export { faultInjectionSection, resultTable, writeSection } from "./report";
export { problems, runScenario, type RunSize, type ScenarioResult } from "./runner";
export { SCENARIOS, type Scenario } from "./scenarios";
export { judge, type Verdict } from "./verdict";
