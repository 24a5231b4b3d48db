"""The ResNeXt block from the question that started keras-shape-lint."""
from tensorflow.keras.layers import Add, BatchNormalization, Conv2D, ReLU


def grouped_convolution_block(x, strides, groups, g_channels):
    x = Conv2D(g_channels * groups, (3, 3), strides=strides, padding="same", groups=groups, use_bias=False)(x)
    x = BatchNormalization(epsilon=1.001e-5)(x)
    return ReLU()(x)


def block(x, filters, strides=1, groups=32, conv_shortcut=True):
    if conv_shortcut:
        shortcut = Conv2D(filters * 2, kernel_size=(1, 1), strides=strides, padding="same", use_bias=False)(x)
        shortcut = BatchNormalization(epsilon=1.001e-5)(shortcut)
    else:
        shortcut = x
    x = Conv2D(filters=filters, kernel_size=(1, 1), strides=1, padding="same", use_bias=False)(x)
    x = BatchNormalization(epsilon=1.001e-5)(x)
    x = ReLU()(x)
    g_channels = int(filters / groups)
    x = grouped_convolution_block(x, strides, groups, g_channels)
    x = Conv2D(filters=filters * 2, kernel_size=(1, 1), strides=1, padding="same", use_bias=False)(x)
    x = BatchNormalization(epsilon=1.001e-5)(x)
    x = Add()([x, shortcut])
    x = ReLU()(x)
    return x
