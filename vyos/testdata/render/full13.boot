policy {
    prefix-list ALLOW {
        rule 10 {
            action permit
            ge 24
            prefix 10.0.0.0/8
        }
    }
    route-map LP {
        rule 10 {
            action permit
            match {
                ip {
                    address {
                        prefix-list ALLOW
                    }
                }
            }
            set {
                as-path-prepend "64512 64512"
                community "65535:65282 additive"
                local-preference 300
            }
        }
    }
}
protocols {
    bfd {
        peer 192.168.126.2 {
            interval {
                multiplier 3
                receive 300
                transmit 300
            }
        }
    }
    bgp 64512 {
        address-family {
            ipv4-unicast {
                maximum-paths {
                    ibgp 4
                }
                network 10.0.0.0/24 {
                }
            }
        }
        neighbor 192.168.126.2 {
            address-family {
                ipv4-unicast {
                    soft-reconfiguration {
                        inbound
                    }
                }
            }
            bfd {
            }
            peer-group METALLB
        }
        neighbor 192.168.126.10 {
            ebgp-multihop 3
            remote-as 64513
        }
        parameters {
            log-neighbor-changes
            router-id 192.168.126.3
        }
        peer-group METALLB {
            address-family {
                ipv4-unicast {
                    route-map {
                        import LP
                    }
                }
            }
            remote-as 64512
        }
        timers {
            holdtime 30
            keepalive 10
        }
    }
    static {
        route 0.0.0.0/0 {
            next-hop 192.168.126.1 {
            }
        }
    }
}
// Warning: Do not remove the following line.
// vyos-config-version: "broadcast-relay@1:cluster@1:config-management@1:conntrack@3:conntrack-sync@2:dhcp-relay@2:dhcp-server@6:dhcpv6-server@1:dns-forwarding@3:firewall@5:https@3:interfaces@22:ipoe-server@1:ipsec@5:isis@1:l2tp@3:lldp@1:mdns@1:nat@5:ntp@1:pppoe-server@5:pptp@2:qos@1:quagga@8:rpki@1:salt@1:snmp@2:ssh@2:sstp@3:system@21:vrrp@2:vyos-accel-ppp@2:wanloadbalance@3:webproxy@2:zone-policy@1"
// Release version: 1.3.8
