//! The kernel side of the ICMP sockets: opening one family's socket,
//! sizing its receive buffer and filtering what it receives (setsockopt),
//! the kernel's drop count, batched reads with `recvmmsg` and batched sends
//! with `sendmmsg`.

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tracing::warn;

use super::packet::{Family, ECHO_LEN};
use super::{BATCH, PACKET_BUF};

pub(super) fn socket_kind(raw: bool) -> &'static str {
    if raw {
        "raw"
    } else {
        "dgram"
    }
}

/// One family's open socket, registered with tokio for reading.
pub(super) struct OpenSocket {
    pub(super) fd: AsyncFd<OwnedFd>,
    /// Raw sockets deliver the IPv4 header and keep our identifier; the
    /// kernel rewrites the identifier of datagram sockets to their "port".
    pub(super) raw: bool,
}

/// Opens one family's socket (raw first, then the unprivileged "ping"
/// datagram socket), sizes its receive buffer and filters what a raw socket
/// receives. Non-blocking: the engine reads and writes it only with
/// `MSG_DONTWAIT` batches.
pub(super) fn open_family(family: Family, recv_buffer: usize) -> io::Result<OpenSocket> {
    let (domain, protocol) = match family {
        Family::V4 => (Domain::IPV4, Protocol::ICMPV4),
        Family::V6 => (Domain::IPV6, Protocol::ICMPV6),
    };
    // Raw first: only raw sockets deliver ICMP errors (destination
    // unreachable) without IP_RECVERR plumbing, and keep our identifier.
    // The second error is the one reported: when both fail, the datagram
    // socket's EACCES (ping_group_range) is what the operator can change.
    let (socket, raw) = match Socket::new(domain, Type::RAW, Some(protocol)) {
        Ok(socket) => (socket, true),
        Err(_) => (Socket::new(domain, Type::DGRAM, Some(protocol))?, false),
    };
    socket.set_nonblocking(true)?;
    let fd = socket.as_raw_fd();
    set_recv_buffer(fd, recv_buffer);
    if raw {
        set_icmp_filter(fd, family)?;
    }
    // SAFETY: an OwnedFd stays open and keeps its number until dropped,
    // which deregisters it first.
    let fd = unsafe { AsyncFd::register_with_interest(OwnedFd::from(socket), Interest::READABLE) }?;
    Ok(OpenSocket { fd, raw })
}

fn setsockopt<T>(fd: RawFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` of the length we pass.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn getsockopt<T: Copy>(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &mut T,
) -> io::Result<()> {
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` points to a live, writable `T` of the length we pass.
    let rc = unsafe { libc::getsockopt(fd, level, name, (value as *mut T).cast(), &mut len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Raises the receive buffer; `SO_RCVBUFFORCE` needs CAP_NET_ADMIN but
/// ignores `net.core.rmem_max`. Falls short with a warning, not an error: a
/// small buffer loses replies under load, it does not stop monitoring.
fn set_recv_buffer(fd: RawFd, bytes: usize) {
    let want = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    if setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &want).is_err() {
        let _ = setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &want);
    }
    let mut got: libc::c_int = 0;
    // Linux reports twice the requested size (the doubling covers its
    // bookkeeping overhead, socket(7)).
    if getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &mut got).is_ok() && got / 2 < want {
        warn!(
            wanted = want,
            got = got / 2,
            "ICMP receive buffer smaller than configured (raise net.core.rmem_max or run with \
             CAP_NET_ADMIN); replies may be dropped under load"
        );
    }
}

/// Lets a raw socket receive only echo replies and the errors that can quote
/// our requests. Without it every ICMP packet the host sees is copied to us,
/// including, on loopback, each of our own echo requests.
fn set_icmp_filter(fd: RawFd, family: Family) -> io::Result<()> {
    match family {
        Family::V4 => {
            // linux/icmp.h: ICMP_FILTER (1) at SOL_RAW, a 32-bit mask of
            // types 0..31 to *block*.
            const ICMP_FILTER: libc::c_int = 1;
            let pass: u32 = (1 << 0) | (1 << 3) | (1 << 11); // echo reply, unreachable, time exceeded
            setsockopt(fd, libc::SOL_RAW, ICMP_FILTER, &!pass)
        }
        Family::V6 => {
            // linux/icmpv6.h: ICMPV6_FILTER (1) at IPPROTO_ICMPV6, 256 bits,
            // a set bit blocks the type (RFC 3542 §3.2 ICMP6_FILTER_SETBLOCK).
            const ICMPV6_FILTER: libc::c_int = 1;
            let mut block = [u32::MAX; 8];
            for t in [129u8, 1, 3] {
                // echo reply, destination unreachable, time exceeded
                block[usize::from(t >> 5)] &= !(1 << (t & 31));
            }
            setsockopt(fd, libc::IPPROTO_ICMPV6, ICMPV6_FILTER, &block)
        }
    }
}

/// The kernel's count of packets dropped on this socket (SO_MEMINFO).
pub(super) fn socket_drops(fd: RawFd) -> Option<u32> {
    // SK_MEMINFO_VARS is 9 on current kernels; the kernel copies at most
    // what we ask for and what it has.
    let mut info = [0u32; 16];
    getsockopt(fd, libc::SOL_SOCKET, libc::SO_MEMINFO, &mut info).ok()?;
    info.get(libc::SK_MEMINFO_DROPS as usize).copied()
}

/// Buffers for one `recvmmsg` call.
pub(super) struct RecvBatch {
    bufs: Vec<[u8; PACKET_BUF]>,
    addrs: Vec<libc::sockaddr_storage>,
    lens: Vec<usize>,
}

impl RecvBatch {
    pub(super) fn new() -> Self {
        RecvBatch {
            bufs: vec![[0; PACKET_BUF]; BATCH],
            // SAFETY: sockaddr_storage is plain data; all zeroes is valid.
            addrs: vec![unsafe { zeroed() }; BATCH],
            lens: vec![0; BATCH],
        }
    }

    /// Reads up to [`BATCH`] packets without blocking; returns how many.
    pub(super) fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        // SAFETY: zeroed iovec/mmsghdr are valid (null pointers, zero lengths).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (i, (buf, addr)) in self.bufs.iter_mut().zip(self.addrs.iter_mut()).enumerate() {
            iovecs[i].iov_base = buf.as_mut_ptr().cast();
            iovecs[i].iov_len = buf.len();
            let h = &mut headers[i].msg_hdr;
            h.msg_name = (addr as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            h.msg_iov = &mut iovecs[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: every header points into buffers owned by `self` (and the
        // local `iovecs`) that outlive the call, with their true lengths.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                headers.as_mut_ptr(),
                BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = usize::try_from(n).unwrap_or(0).min(BATCH);
        for (i, h) in headers.iter().take(n).enumerate() {
            self.lens[i] = (h.msg_len as usize).min(PACKET_BUF);
            if h.msg_hdr.msg_namelen as usize > size_of::<libc::sockaddr_storage>() {
                self.addrs[i].ss_family = libc::AF_UNSPEC as libc::sa_family_t;
            }
        }
        Ok(n)
    }

    /// The `i`th packet of the last batch and its sender.
    pub(super) fn packet(&self, i: usize) -> (&[u8], Option<IpAddr>) {
        (&self.bufs[i][..self.lens[i]], sockaddr_ip(&self.addrs[i]))
    }
}

fn sockaddr_ip(addr: &libc::sockaddr_storage) -> Option<IpAddr> {
    match libc::c_int::from(addr.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in, which fits in and is
            // less aligned than sockaddr_storage.
            let sin =
                unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &*(addr as *const libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
        }
        _ => None,
    }
}

/// Echo requests for one `sendmmsg` call: up to [`BATCH`] packets, each
/// with its destination. Buffers are allocated once and reused.
pub(super) struct SendBatch {
    bufs: Vec<[u8; ECHO_LEN]>,
    addrs: Vec<libc::sockaddr_storage>,
    addr_lens: Vec<libc::socklen_t>,
    len: usize,
}

impl SendBatch {
    pub(super) fn new() -> Self {
        SendBatch {
            bufs: vec![[0; ECHO_LEN]; BATCH],
            // SAFETY: sockaddr_storage is plain data; all zeroes is valid.
            addrs: vec![unsafe { zeroed() }; BATCH],
            addr_lens: vec![0; BATCH],
            len: 0,
        }
    }

    pub(super) fn is_full(&self) -> bool {
        self.len == BATCH
    }

    /// Adds a packet for `to`; returns its buffer to fill. The caller checks
    /// [`SendBatch::is_full`] first.
    pub(super) fn push(&mut self, to: IpAddr) -> &mut [u8; ECHO_LEN] {
        let i = self.len;
        self.addr_lens[i] = write_sockaddr(to, &mut self.addrs[i]);
        self.len += 1;
        &mut self.bufs[i]
    }

    pub(super) fn clear(&mut self) {
        self.len = 0;
    }

    /// Sends every packet of the batch without blocking, as few `sendmmsg`
    /// calls as the kernel allows, and calls `result(i, ..)` once for each
    /// packet in order: `Ok` when the kernel took it, or the error of the
    /// call that refused it. `sendmmsg` stops at the first packet it cannot
    /// send and reports only the count before it, so a refused packet is
    /// retried alone to learn its error and then skipped: one unroutable
    /// target does not cost the rest of the batch.
    pub(super) fn send(&mut self, fd: RawFd, mut result: impl FnMut(usize, io::Result<()>)) {
        // SAFETY: zeroed iovec/mmsghdr are valid (null pointers, zero lengths).
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for i in 0..self.len {
            iovecs[i].iov_base = self.bufs[i].as_mut_ptr().cast();
            iovecs[i].iov_len = ECHO_LEN;
            let h = &mut headers[i].msg_hdr;
            h.msg_name = (&mut self.addrs[i] as *mut libc::sockaddr_storage).cast();
            h.msg_namelen = self.addr_lens[i];
            h.msg_iov = &mut iovecs[i];
            h.msg_iovlen = 1;
        }
        let mut next = 0;
        while next < self.len {
            // SAFETY: headers[next..len] point into `self`'s buffers and the
            // local `iovecs`, all alive for the call, with their true
            // lengths; the kernel writes only `msg_len` of each header.
            let n = unsafe {
                libc::sendmmsg(
                    fd,
                    headers[next..].as_mut_ptr(),
                    (self.len - next) as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if n > 0 {
                let n = (n as usize).min(self.len - next);
                for i in next..next + n {
                    result(i, Ok(()));
                }
                next += n;
                continue;
            }
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            result(next, Err(e));
            next += 1;
        }
    }
}

/// Writes `ip` as a socket address (port 0) into `out`; returns its length.
fn write_sockaddr(ip: IpAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    // SAFETY: all zeroes is a valid sockaddr_storage.
    *out = unsafe { zeroed() };
    match ip {
        IpAddr::V4(v4) => {
            // SAFETY: sockaddr_in fits in and is less aligned than
            // sockaddr_storage, which we own exclusively here.
            let sin =
                unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from(v4).to_be();
            size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        IpAddr::V6(v6) => {
            // SAFETY: as above, for sockaddr_in6.
            let sin6 =
                unsafe { &mut *(out as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = v6.octets();
            size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}
