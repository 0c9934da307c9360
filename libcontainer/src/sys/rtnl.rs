//! The one rtnetlink request corral makes: move a network interface to another network
//! namespace, named anew there (RTM_NEWLINK with IFLA_NET_NS_FD and IFLA_IFNAME, as
//! `ip link set DEV netns NS name NAME` sends it). A netlink socket stays in the network
//! namespace it was made in, so the interface's index is looked up, and the request
//! made, in that namespace whatever the caller's is later.

use nix::errno::Errno;
use nix::sys::socket::{
    recv, send, socket, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsRawFd, OwnedFd};

// linux/rtnetlink.h, linux/netlink.h, linux/if_link.h, linux/sockios.h.
const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_FD: u16 = 28;
const SIOCGIFINDEX: libc::c_ulong = 0x8933;
/// IFNAMSIZ: names are at most 15 bytes and a NUL.
pub const IFNAMSIZ: usize = 16;

/// A NETLINK_ROUTE socket of the network namespace the caller was in when it opened it.
pub struct Rtnl(OwnedFd);

/// `struct ifreq` with the `ifr_ifindex` member of its union (40 bytes on 64-bit).
#[repr(C)]
struct IfreqIndex {
    name: [u8; IFNAMSIZ],
    index: libc::c_int,
    _pad: [u8; 20],
}

impl Rtnl {
    pub fn open() -> Result<Self, Errno> {
        socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map(Rtnl)
    }

    /// The index of interface `name` in the socket's namespace (SIOCGIFINDEX: for a
    /// netlink socket the kernel answers it from the socket's network namespace).
    pub fn index(&self, name: &str) -> Result<i32, Errno> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.contains('\0') {
            return Err(Errno::EINVAL);
        }
        let mut req = IfreqIndex {
            name: [0; IFNAMSIZ],
            index: 0,
            _pad: [0; 20],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: req is a properly sized, NUL-terminated ifreq the kernel writes into.
        let ret = unsafe { libc::ioctl(self.0.as_raw_fd(), SIOCGIFINDEX, &mut req) };
        Errno::result(ret)?;
        Ok(req.index)
    }

    /// Moves interface `index` (of the socket's namespace) into the network namespace
    /// `netns`, where it is called `name`.
    pub fn move_to(&self, index: i32, netns: &OwnedFd, name: &str) -> Result<(), Errno> {
        if name.is_empty() || name.len() >= IFNAMSIZ || name.contains('\0') {
            return Err(Errno::EINVAL);
        }
        let mut msg = Vec::with_capacity(64);
        msg.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set below
        msg.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
        msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        msg.extend_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq
        msg.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel
                                                    // struct ifinfomsg: family, pad, type, index, flags, change.
        let family = u8::try_from(libc::AF_UNSPEC).map_err(|_| Errno::EINVAL)?;
        msg.extend_from_slice(&[family, 0, 0, 0]);
        msg.extend_from_slice(&index.to_ne_bytes());
        msg.extend_from_slice(&[0; 8]);
        let netns = u32::try_from(netns.as_raw_fd()).map_err(|_| Errno::EBADF)?;
        attr(&mut msg, IFLA_NET_NS_FD, &netns.to_ne_bytes())?;
        let mut cname = name.as_bytes().to_vec();
        cname.push(0);
        attr(&mut msg, IFLA_IFNAME, &cname)?;
        let len = u32::try_from(msg.len()).map_err(|_| Errno::EMSGSIZE)?;
        msg[..4].copy_from_slice(&len.to_ne_bytes());
        send(self.0.as_raw_fd(), &msg, MsgFlags::empty())?;
        self.ack()
    }

    /// The kernel's answer: an NLMSG_ERROR whose error is 0 (an ack) or -errno.
    fn ack(&self) -> Result<(), Errno> {
        let mut buf = [0u8; 4096];
        loop {
            let n = match recv(self.0.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Err(Errno::EINTR) => continue,
                r => r?,
            };
            if n < 20 || u16::from_ne_bytes([buf[4], buf[5]]) != NLMSG_ERROR {
                return Err(Errno::EPROTO);
            }
            let err = i32::from_ne_bytes([buf[16], buf[17], buf[18], buf[19]]);
            return if err == 0 {
                Ok(())
            } else {
                Err(Errno::from_raw(-err))
            };
        }
    }
}

/// Appends a route attribute (struct rtattr: length, type, then the value padded to 4).
fn attr(msg: &mut Vec<u8>, kind: u16, value: &[u8]) -> Result<(), Errno> {
    let len = 4 + value.len();
    msg.extend_from_slice(
        &u16::try_from(len)
            .map_err(|_| Errno::EMSGSIZE)?
            .to_ne_bytes(),
    );
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(value);
    msg.resize(msg.len() + (4 - len % 4) % 4, 0);
    Ok(())
}
