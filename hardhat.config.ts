import { createRequire } from "node:module";
import type { HardhatUserConfig } from "hardhat/config";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatViem from "@nomicfoundation/hardhat-viem";

// Compile offline: Hardhat would otherwise download solc. The exact version comes from the
// `solc` npm package, so the compiler is pinned by package-lock.json like everything else.
const require = createRequire(import.meta.url);
const SOLC_VERSION = "0.8.30";
const soljsonPath = require.resolve("solc/soljson.js");

const config: HardhatUserConfig = {
  plugins: [hardhatMocha, hardhatViem],
  solidity: {
    version: SOLC_VERSION,
    path: soljsonPath,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: "prague",
    },
    // EigenLayer's core (contracts/vendor/eigenlayer) is deployed behind OpenZeppelin 4.9's
    // proxies, as its own local deployment script does; these npm files get artifacts too.
    npmFilesToBuild: [
      "openzeppelin-contracts-v4/proxy/transparent/ProxyAdmin.sol",
      "openzeppelin-contracts-v4/proxy/transparent/TransparentUpgradeableProxy.sol",
      "openzeppelin-contracts-v4/proxy/beacon/UpgradeableBeacon.sol",
    ],
  },
  networks: {
    // `npm run chain` listens on 127.0.0.1; "localhost" could resolve to ::1 first.
    localhost: { type: "http", chainType: "l1", url: "http://127.0.0.1:8545" },
    // The chain of `npm start` (`hardhat --network replayable node`): transactions are mined in
    // arrival order, so that replaying its journal (scripts/network/chain-journal.ts) into a
    // fresh node rebuilds the same blocks; VB_CHAIN_GENESIS_TIME (unix seconds) gives the
    // replaying node the original genesis timestamp.
    replayable: {
      type: "edr-simulated",
      chainType: "l1",
      mining: { mempool: { order: "fifo" } },
      ...(process.env.VB_CHAIN_GENESIS_TIME ? { initialDate: new Date(Number(process.env.VB_CHAIN_GENESIS_TIME) * 1000) } : {}),
    },
  },
  paths: {
    tests: {
      mocha: "test",
      solidity: "contracts/test",
    },
  },
  test: {
    mocha: { timeout: 120_000 },
    // Kept small so that `npm test` stays fast; raise them locally for deeper fuzzing.
    solidity: {
      fuzz: { runs: 64 },
      invariant: { runs: 32, depth: 32 },
    },
  },
};

export default config;
