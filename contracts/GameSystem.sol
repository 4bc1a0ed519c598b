// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// A system a World runs virtualized: its storage operations land in the World's storage.
contract GameSystem {
    address constant VCALL = 0x000000000000000000000000000000006B65656C;

    function bubble(bool ok, bytes memory out) private pure {
        if (!ok) {
            assembly {
                revert(add(out, 32), mload(out))
            }
        }
    }

    function write(bytes32 slot, uint256 value) external {
        assembly {
            sstore(slot, value)
        }
    }

    function read(bytes32 slot) external view returns (uint256 value) {
        assembly {
            value := sload(slot)
        }
    }

    function tread(bytes32 slot) external view returns (uint256 value) {
        assembly {
            value := tload(slot)
        }
    }

    /// The World's caller, which the virtualized call appends to the calldata.
    function msgSender() external pure returns (address sender) {
        assembly {
            sender := shr(96, calldataload(sub(calldatasize(), 20)))
        }
    }

    /// A nested virtualized call to another system of the same World.
    function nested(address system, bytes calldata data) external returns (bytes memory out) {
        bool ok;
        (ok, out) = VCALL.call(abi.encodeWithSignature("vcall(address,bytes)", system, data));
        bubble(ok, out);
    }

    /// Tries to grant itself more storage (must be refused).
    function grantSelf(bytes4 namespace) external {
        bytes4[] memory namespaces = new bytes4[](1);
        namespaces[0] = namespace;
        (bool ok, bytes memory out) =
            VCALL.call(abi.encodeWithSignature("grant(address,bytes4[])", address(this), namespaces));
        bubble(ok, out);
    }

    /// A plain call out (the system's own rule decides where it may call).
    function callOut(address target) external {
        (bool ok, bytes memory out) = target.call("");
        bubble(ok, out);
    }

    function delegate(address target) external {
        (bool ok, bytes memory out) = target.delegatecall("");
        bubble(ok, out);
    }
}
