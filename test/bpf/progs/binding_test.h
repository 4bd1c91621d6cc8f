/* Structs of the binding test object (not a VNF). */
#ifndef BINDING_TEST_H
#define BINDING_TEST_H

struct bt_key {
	__u32 addr;     /* network order */
	__u16 port;     /* host order */
	__u8 proto;
	__u8 _pad;
};

struct bt_value {
	__u64 hits;
	__u32 flags;
	__u8 mac[6];
	__u8 _pad[6];  /* explicit: no implicit tail padding */
};

_Static_assert(sizeof(struct bt_key) == 8, "bt_key");
_Static_assert(sizeof(struct bt_value) == 24, "bt_value");

#endif
