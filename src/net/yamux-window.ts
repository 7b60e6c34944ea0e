/**
 * @module net/yamux-window
 * Yamux window updates once half the receive window is used, not after every frame.
 *
 * `@libp2p/yamux` 8.0.3 answers every data frame it receives with a window-update frame (`handleData` calls
 * `sendWindowUpdate`, which sends whenever any of the window is used). So every Raft message, gossip message
 * and content frame costs a second frame the other way: a socket write, noise and pnet encryption, and on the
 * far side a read, a decryption and frame handling. A leader of 3 voters wrote about 4 such 30-byte frames
 * per commit to each follower (strace; docs/bench/consensus.md). Go's yamux, the protocol's reference, sends
 * an update only once at least half the window has been consumed; this does the same for an established
 * stream and leaves every other case (the SYN/ACK update, a paused stream) to the library.
 *
 * Why it cannot stall a sender: the sender stops only when its window is 0, which means our capacity is 0,
 * below half, so the frame that used it up is answered with an update.
 */
import { YamuxStream, StreamState } from '@libp2p/yamux/stream'

/** The fields of a YamuxStream the threshold reads (private in its types, plain properties at run time). */
interface WindowState {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

let installed = false

/** Installs the threshold on YamuxStream (once per process; idempotent). */
export function installYamuxWindowThreshold (): void {
  if (installed) return
  installed = true
  const proto = YamuxStream.prototype as unknown as WindowState
  const sendEveryTime = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: WindowState): void {
    if (this.state === StreamState.Established && this.recvWindowCapacity * 2 > this.recvWindow) return
    sendEveryTime.call(this)
  }
}
