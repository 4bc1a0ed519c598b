// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A contract to confine: each function exercises one operation a keel sandbox rule can restrict. Failures of
/// inner calls and creations are re-raised with their revert data, so a PolicyViolation deep inside reaches the
/// transaction's result.
contract Plugin {
    event Ping(uint256 indexed n);

    function bubble(bool ok, bytes memory out) private pure {
        if (!ok) {
            assembly {
                revert(add(out, 32), mload(out))
            }
        }
    }

    function callOut(address target, bytes calldata data) external payable returns (bytes memory out) {
        bool ok;
        (ok, out) = target.call{value: msg.value}(data);
        bubble(ok, out);
    }

    /// `n` calls of `ping()` on `target` (the policy benchmark's call-heavy workload).
    function callMany(address target, uint256 n) external {
        for (uint256 i = 0; i < n; i++) {
            (bool ok,) = target.call(abi.encodeWithSignature("ping()"));
            require(ok, "ping failed");
        }
    }

    function callWithGas(address target, uint256 gasAmount) external returns (bytes memory out) {
        bool ok;
        (ok, out) = target.call{gas: gasAmount}("");
        bubble(ok, out);
    }

    function delegate(address target, bytes calldata data) external returns (bytes memory out) {
        bool ok;
        (ok, out) = target.delegatecall(data);
        bubble(ok, out);
    }

    function staticRead(address target, bytes calldata data) external view returns (bytes memory out) {
        bool ok;
        (ok, out) = target.staticcall(data);
        bubble(ok, out);
    }

    function store(bytes32 slot, uint256 value) external {
        assembly {
            sstore(slot, value)
        }
    }

    function load(bytes32 slot) external view returns (uint256 value) {
        assembly {
            value := sload(slot)
        }
    }

    function tstoreAt(bytes32 slot, uint256 value) external {
        assembly {
            tstore(slot, value)
        }
    }

    function log0() external {
        assembly {
            log0(0, 0)
        }
    }

    function ping(uint256 n) external {
        emit Ping(n);
    }

    /// Calls itself `n` levels deep.
    function recurse(uint256 n) external {
        if (n > 0) {
            Plugin(payable(address(this))).recurse(n - 1);
        }
    }

    function deploy(bytes memory initcode) public returns (address created) {
        assembly {
            created := create(0, add(initcode, 32), mload(initcode))
        }
        if (created == address(0)) {
            assembly {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
        }
    }

    function deploy2(bytes memory initcode, bytes32 salt) external returns (address created) {
        assembly {
            created := create2(0, add(initcode, 32), mload(initcode), salt)
        }
        if (created == address(0)) {
            assembly {
                returndatacopy(0, 0, returndatasize())
                revert(0, returndatasize())
            }
        }
    }

    /// Deploys a contract whose code is `size` zero bytes.
    function deploySized(uint256 size) external returns (address) {
        // PUSH2 size, PUSH1 0, RETURN: returns `size` bytes of zeroed memory as the code.
        bytes memory initcode = abi.encodePacked(hex"61", uint16(size), hex"6000f3");
        return deploy(initcode);
    }

    function destroy(address payable to) external {
        selfdestruct(to);
    }

    receive() external payable {}
}
