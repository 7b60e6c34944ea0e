/**
 * @module netns/constants
 * Names and limits of the network-namespace lab.
 */

/** The nftables table made in every node namespace; faults are rules in its `in` and `out` chains. */
export const FILTER_TABLE_NAME = 'revoada_faults'
/** The bridge inside a lab's switch namespace. */
export const BRIDGE_NAME = 'br0'
/** Each node and client namespace's end of its veth pair. */
export const LAB_INTERFACE_NAME = 'eth0'
/** Linux interface names hold at most 15 bytes (IFNAMSIZ 16 with its NUL). */
export const INTERFACE_NAME_BYTES_MAX = 15
/** Host part of a lab's host-side address (`<subnet>.254`). */
export const HOST_LINK_HOST_OCTET = 254
/** Node i (0-based) is `<subnet>.(i + 1)`, so a lab holds at most this many nodes below the client/host octets. */
export const LAB_NODES_MAX = 99
