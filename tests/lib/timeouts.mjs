// Suite timeouts catch a hang, not a slow machine. A sanitizer build runs every request and
// every CLI start several times slower (ASan's start-up and leak check alone take most of a
// second), so under TOOLREGISTRY_TEST_SANITIZER a suite gets four times as long.
export const TIME_SCALE = process.env.TOOLREGISTRY_TEST_SANITIZER ? 4 : 1;

/** `ms`, scaled for the build under test. */
export function scaled(ms) {
  return ms * TIME_SCALE;
}
