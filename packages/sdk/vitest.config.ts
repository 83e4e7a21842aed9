export { default } from "../../packages/testing/vitest.shared";
