// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A host ("World") that runs systems through keel's virtualized-call address: a system's code runs in this
/// contract's storage, confined to the namespaces this contract granted it.
contract World {
    address constant VCALL = 0x000000000000000000000000000000006B65656C;
    address public immutable owner;

    constructor() {
        owner = msg.sender;
    }

    function bubble(bool ok, bytes memory out) private pure {
        if (!ok) {
            assembly {
                revert(add(out, 32), mload(out))
            }
        }
    }

    function grant(address system, bytes4[] calldata namespaces) external {
        require(msg.sender == owner, "only the owner grants");
        (bool ok, bytes memory out) = VCALL.call(abi.encodeWithSignature("grant(address,bytes4[])", system, namespaces));
        bubble(ok, out);
    }

    function revoke(address system) external {
        require(msg.sender == owner, "only the owner revokes");
        (bool ok, bytes memory out) = VCALL.call(abi.encodeWithSignature("revoke(address)", system));
        bubble(ok, out);
    }

    /// Runs `data` on `system` in this contract's storage; returns the system's raw return data.
    function run(address system, bytes calldata data) external returns (bytes memory out) {
        bool ok;
        (ok, out) = VCALL.call(abi.encodeWithSignature("vcall(address,bytes)", system, data));
        bubble(ok, out);
    }

    function read(bytes32 slot) external view returns (uint256 value) {
        assembly {
            value := sload(slot)
        }
    }
}
