interfaces {
    ethernet eth0 {
        address 198.51.100.1/24
        address 2001:db8::1/64
        description "uplink to lab"
    }
}
policy {
    prefix-list PL-IN {
        rule 10 {
            action permit
            le 32
            prefix 10.0.0.0/8
        }
        rule 20 {
            action deny
            prefix 0.0.0.0/0
        }
    }
    prefix-list6 PL6 {
        rule 10 {
            action permit
            ge 48
            prefix 2001:db8::/32
        }
    }
    route-map RM-IN {
        rule 10 {
            action permit
            match {
                ip {
                    address {
                        prefix-list PL-IN
                    }
                }
            }
            set {
                community {
                    add 65000:1
                    add 65000:2
                }
                local-preference 200
            }
        }
    }
    route-map RM-OUT {
        rule 10 {
            action permit
            set {
                as-path {
                    prepend "64512 64512"
                }
            }
        }
        rule 20 {
            action deny
        }
    }
}
protocols {
    bfd {
        peer 198.51.100.2 {
            profile fast
        }
        peer 198.51.100.3 {
            minimum-ttl 250
            multihop
            source {
                address 198.51.100.1
            }
        }
        peer 198.51.100.4 {
            echo-mode
            interval {
                echo-interval 100
            }
            shutdown
        }
        profile fast {
            interval {
                multiplier 5
                receive 100
                transmit 100
            }
        }
        profile slow {
            passive
        }
    }
    bgp {
        address-family {
            ipv4-unicast {
                aggregate-address 10.0.0.0/8 {
                    summary-only
                }
                aggregate-address 172.16.0.0/12 {
                    as-set
                }
                maximum-paths {
                    ebgp 4
                    ibgp 8
                }
                network 10.10.0.0/16 {
                }
                network 10.20.0.0/16 {
                    route-map RM-OUT
                }
                redistribute {
                    connected {
                    }
                    static {
                        route-map RM-OUT
                    }
                }
            }
            ipv6-unicast {
                network 2001:db8:10::/48 {
                }
            }
        }
        listen {
            limit 20
            range 198.51.100.128/25 {
                peer-group DYN
            }
        }
        neighbor 198.51.100.2 {
            address-family {
                ipv4-unicast {
                    addpath-tx-all
                    allowas-in {
                        number 2
                    }
                    default-originate {
                    }
                    disable-send-community {
                        extended
                    }
                    maximum-prefix 1000
                    prefix-list {
                        import PL-IN
                    }
                    remove-private-as {
                        all
                    }
                    route-map {
                        export RM-OUT
                        import RM-IN
                    }
                }
                ipv6-unicast {
                    prefix-list {
                        import PL6
                    }
                }
            }
            bfd {
                profile fast
            }
            description "metallb speaker"
            ebgp-multihop 2
            passive
            password S3cret
            remote-as 65001
            timers {
                connect 5
                holdtime 3
                keepalive 1
            }
        }
        neighbor 198.51.100.3 {
            address-family {
                ipv4-unicast {
                }
            }
            local-as 65500 {
                no-prepend {
                    replace-as
                }
            }
            port 1179
            remote-as 65002
            shutdown
            ttl-security {
                hops 2
            }
        }
        neighbor 198.51.100.5 {
            address-family {
                ipv4-unicast {
                }
            }
            peer-group IBGP
        }
        neighbor 198.51.100.6 {
            address-family {
                ipv4-unicast {
                    disable-send-community {
                        standard
                    }
                    nexthop-self {
                        force
                    }
                }
            }
            disable-capability-negotiation
            remote-as internal
        }
        parameters {
            bestpath {
                as-path multipath-relax
                compare-routerid
            }
            cluster-id 198.51.100.1
            default {
                local-pref 150
            }
            deterministic-med
            graceful-restart {
                stalepath-time 60
            }
            log-neighbor-changes
            router-id 198.51.100.1
        }
        peer-group DYN {
            address-family {
                ipv4-unicast {
                    soft-reconfiguration {
                        inbound
                    }
                }
            }
            remote-as 65100
        }
        peer-group IBGP {
            address-family {
                ipv4-unicast {
                    nexthop-self {
                    }
                    route-reflector-client
                }
            }
            remote-as internal
            update-source 198.51.100.1
        }
        system-as 64512
        timers {
            holdtime 9
            keepalive 3
        }
    }
    static {
        route 192.0.2.0/26 {
            interface eth0 {
            }
        }
        route 192.0.2.128/25 {
            next-hop 198.51.100.254 {
                distance 10
            }
        }
        route 203.0.113.0/24 {
            blackhole {
                distance 200
            }
        }
        route6 2001:db8:ff::/48 {
            next-hop 2001:db8::fe {
            }
        }
    }
}
service {
    ssh {
        listen-address 198.51.100.1
        port 22
        port 2222
    }
}
system {
    host-name edge1
}
// Warning: Do not remove the following line.
// vyos-config-version: "bgp@5:broadcast-relay@1:cluster@2:config-management@1:conntrack@5:conntrack-sync@2:container@1:dhcp-relay@2:dhcp-server@8:dhcpv6-server@1:dns-dynamic@4:dns-forwarding@4:firewall@15:flow-accounting@1:https@6:ids@1:interfaces@32:ipoe-server@3:ipsec@13:isis@3:l2tp@8:lldp@2:mdns@1:monitoring@1:nat@7:nat66@3:ntp@3:openconnect@3:ospf@2:pim@1:policy@8:pppoe-server@8:pptp@4:qos@2:quagga@11:rip@1:rpki@2:salt@1:snmp@3:ssh@2:sstp@6:system@27:vrf@3:vrrp@4:vyos-accel-ppp@2:wanloadbalance@3:webproxy@2"
// Release version: 1.4.0
